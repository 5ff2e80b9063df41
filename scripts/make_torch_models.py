#!/usr/bin/python3
"""Export standard architectures with random weights to ONNX (dev/bench step).

    /usr/bin/python3 scripts/make_torch_models.py [CACHE_DIR] [--only NAME,...]

Writes CACHE_DIR/torch/<name>.onnx (CACHE_DIR defaults to $NCORE_CACHE or
~/.cache/ncore): ResNet-50, MobileNetV2, SqueezeNet 1.1, EfficientNet-B0 and
DenseNet-121 from torchvision (batch 1x3x224x224), and a BERT-like
torch.nn.TransformerEncoder (6 layers, d_model 384, 12 heads, FFN 1536,
sequence 128, batch 1, batch_first), BERT-base's encoder shape, and YOLOv4
at 416x416 (batch 1x3x416x416, three head outputs, no box decoding). Random
weights from torch.manual_seed(0), eval mode, opset 13, fixed shapes. They
test graphs and numerics, not accuracy.

Beside each, <name>_dyn.onnx: the same model and weights with a dynamic
leading (batch) dimension named "batch" on the input and output, for the
batch-8 benchmarks (bench/models.txt). The batch-1 files stay as they were:
the model tests and the batch-1 benchmarks use them.

Needs Debian's python3-torch, python3-torchvision and python3-onnx (use
/usr/bin/python3, not another interpreter on PATH). Not a CI step: installing
torch is slow.
"""
import argparse
import os
import sys
import time

import torch
import torchvision

OPSET = 13


def calibrate_batchnorm(model, batches=4, shape=(8, 3, 224, 224)):
    """Set every BatchNorm's running statistics from random batches.

    With the freshly initialised statistics (mean 0, variance 1) activations
    shrink layer after layer in MobileNetV2 and EfficientNet-B0 until the
    logits are ~1e-15, which would make any numeric comparison vacuous.
    Statistics measured on the model's own activations keep them O(1)."""
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average over the batches
    model.train()
    with torch.no_grad():
        for _ in range(batches):
            model(torch.randn(*shape))
    model.eval()


def cnn(ctor):
    def make():
        model = ctor(weights=None)
        calibrate_batchnorm(model)
        return model, torch.randn(1, 3, 224, 224), ["input"], ["output"]
    return make


def gelu(x):
    # Not F.gelu itself: torch 1.13 then takes its fused eval-mode encoder
    # path (aten::_transformer_encoder_layer_fwd), which has no ONNX export.
    # This way GELU exports by parts (Div, Erf, Add, Mul).
    return torch.nn.functional.gelu(x)


class Encoder(torch.nn.Module):
    """BERT-like: a stack of post-norm encoder layers with GELU FFNs."""

    def __init__(self, d_model=384, layers=6):
        super().__init__()
        layer = torch.nn.TransformerEncoderLayer(
            d_model=d_model, nhead=12, dim_feedforward=4 * d_model, dropout=0.0,
            activation=gelu, batch_first=True)
        self.encoder = torch.nn.TransformerEncoder(layer, num_layers=layers,
                                                   enable_nested_tensor=False)
        # The stack starts as deep copies of one layer; give every layer its
        # own weights (else the exporter shares one set of initializers).
        for m in self.modules():
            if isinstance(m, torch.nn.MultiheadAttention):
                m._reset_parameters()
            elif hasattr(m, "reset_parameters") and m is not self:
                m.reset_parameters()

    def forward(self, x):
        return self.encoder(x)


def encoder():
    return Encoder(), torch.randn(1, 128, 384), ["input"], ["output"]


def bert_base():
    """BERT-base's encoder shape (12 layers, d 768, 12 heads, FFN 3072, seq
    128): the published Inf1 BERT-base figures are for this network; the
    embeddings (a table lookup) are left out."""
    return Encoder(768, 12), torch.randn(1, 128, 768), ["input"], ["output"]


class ConvBN(torch.nn.Sequential):
    """Darknet's convolutional layer: conv (no bias), BatchNorm, activation
    (the exporter folds the BatchNorm into the conv in eval mode)."""

    def __init__(self, cin, cout, k, stride=1, act="mish"):
        acts = {"mish": torch.nn.Mish(), "leaky": torch.nn.LeakyReLU(0.1)}
        super().__init__(torch.nn.Conv2d(cin, cout, k, stride, k // 2, bias=False),
                         torch.nn.BatchNorm2d(cout), acts[act])


class CSPStage(torch.nn.Module):
    """A CSPDarknet53 stage: 3x3 stride-2 downsample, split into two 1x1
    branches, residual blocks on one, concatenation, 1x1 transition. The
    first stage keeps full width in its branches and block (as in
    yolov4.cfg); the others halve it."""

    def __init__(self, cin, cout, blocks, first=False):
        super().__init__()
        mid = cout if first else cout // 2
        self.down = ConvBN(cin, cout, 3, 2)
        self.split_a = ConvBN(cout, mid, 1)
        self.split_b = ConvBN(cout, mid, 1)
        inner = cout // 2 if first else mid
        self.blocks = torch.nn.ModuleList(
            torch.nn.Sequential(ConvBN(mid, inner, 1), ConvBN(inner, mid, 3)) for _ in range(blocks))
        self.post = ConvBN(mid, mid, 1)
        self.trans = ConvBN(2 * mid, cout, 1)

    def forward(self, x):
        x = self.down(x)
        a = self.split_a(x)
        b = self.split_b(x)
        for blk in self.blocks:
            b = b + blk(b)
        return self.trans(torch.cat([self.post(b), a], 1))


def leaky_stack(cin, widths):
    """Alternating 1x1/3x3 leaky convs: widths[i] channels out of layer i."""
    layers = []
    for i, w in enumerate(widths):
        layers.append(ConvBN(cin, w, 1 if i % 2 == 0 else 3, act="leaky"))
        cin = w
    return torch.nn.Sequential(*layers)


class YOLOv4(torch.nn.Module):
    """YOLOv4 (yolov4.cfg) at 416x416: CSPDarknet53 with Mish, SPP (max pools
    5/9/13), PANet neck (nearest 2x upsampling, concatenations) and three
    255-channel heads at strides 8/16/32. The network only: no box decoding
    or NMS (the published Inf1 latency is for the network)."""

    def __init__(self, classes=80):
        super().__init__()
        out = 3 * (classes + 5)
        self.stem = ConvBN(3, 32, 3)
        self.s1 = CSPStage(32, 64, 1, first=True)
        self.s2 = CSPStage(64, 128, 2)
        self.s3 = CSPStage(128, 256, 8)
        self.s4 = CSPStage(256, 512, 8)
        self.s5 = CSPStage(512, 1024, 4)
        self.pre_spp = leaky_stack(1024, [512, 1024, 512])
        self.post_spp = leaky_stack(2048, [512, 1024, 512])
        self.pools = torch.nn.ModuleList(torch.nn.MaxPool2d(k, 1, k // 2) for k in (5, 9, 13))
        self.up = torch.nn.Upsample(scale_factor=2, mode="nearest")
        self.p5_up = ConvBN(512, 256, 1, act="leaky")
        self.c4_lat = ConvBN(512, 256, 1, act="leaky")
        self.p4 = leaky_stack(512, [256, 512, 256, 512, 256])
        self.p4_up = ConvBN(256, 128, 1, act="leaky")
        self.c3_lat = ConvBN(256, 128, 1, act="leaky")
        self.p3 = leaky_stack(256, [128, 256, 128, 256, 128])
        self.head3 = torch.nn.Sequential(ConvBN(128, 256, 3, act="leaky"), torch.nn.Conv2d(256, out, 1))
        self.n4_down = ConvBN(128, 256, 3, 2, act="leaky")
        self.n4 = leaky_stack(512, [256, 512, 256, 512, 256])
        self.head4 = torch.nn.Sequential(ConvBN(256, 512, 3, act="leaky"), torch.nn.Conv2d(512, out, 1))
        self.n5_down = ConvBN(256, 512, 3, 2, act="leaky")
        self.n5 = leaky_stack(1024, [512, 1024, 512, 1024, 512])
        self.head5 = torch.nn.Sequential(ConvBN(512, 1024, 3, act="leaky"), torch.nn.Conv2d(1024, out, 1))

    def forward(self, x):
        c3 = self.s3(self.s2(self.s1(self.stem(x))))
        c4 = self.s4(c3)
        x = self.pre_spp(self.s5(c4))
        x = torch.cat([p(x) for p in reversed(self.pools)] + [x], 1)
        p5 = self.post_spp(x)
        p4 = self.p4(torch.cat([self.c4_lat(c4), self.up(self.p5_up(p5))], 1))
        p3 = self.p3(torch.cat([self.c3_lat(c3), self.up(self.p4_up(p4))], 1))
        n4 = self.n4(torch.cat([self.n4_down(p3), p4], 1))
        n5 = self.n5(torch.cat([self.n5_down(n4), p5], 1))
        return self.head3(p3), self.head4(n4), self.head5(n5)


def yolov4():
    model = YOLOv4()
    # Two small batches: enough for O(1) activations, and 416x416 is costly.
    calibrate_batchnorm(model, batches=2, shape=(2, 3, 416, 416))
    return model, torch.randn(1, 3, 416, 416), ["input"], ["output_52", "output_26", "output_13"]


MODELS = {
    "resnet50": cnn(torchvision.models.resnet50),
    "mobilenet_v2": cnn(torchvision.models.mobilenet_v2),
    "squeezenet1_1": cnn(torchvision.models.squeezenet1_1),
    "efficientnet_b0": cnn(torchvision.models.efficientnet_b0),
    "densenet121": cnn(torchvision.models.densenet121),
    "bert_encoder": encoder,
    "bert_base": bert_base,
    "yolov4": yolov4,
}


def main():
    default_cache = os.environ.get("NCORE_CACHE") or os.path.expanduser("~/.cache/ncore")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cache", nargs="?", default=default_cache)
    ap.add_argument("--only", help="comma-separated subset of " + ",".join(MODELS))
    ap.add_argument("--force", action="store_true", help="re-export existing files")
    args = ap.parse_args()

    names = args.only.split(",") if args.only else list(MODELS)
    for n in names:
        if n not in MODELS:
            sys.exit(f"make_torch_models.py: unknown model {n!r}")
    out_dir = os.path.join(args.cache, "torch")
    os.makedirs(out_dir, exist_ok=True)
    # Grad stays enabled: with it off, torch 1.13 routes an eval-mode
    # MultiheadAttention to its fused kernel, which has no ONNX export.
    for name in names:
        path = os.path.join(out_dir, name + ".onnx")
        dyn_path = os.path.join(out_dir, name + "_dyn.onnx")
        todo = [(p, dyn) for p, dyn in ((path, False), (dyn_path, True))
                if args.force or not os.path.exists(p)]
        if not todo:
            print(f"{name}: {path} and {dyn_path} exist")
            continue
        torch.manual_seed(0)
        model, example, in_names, out_names = MODELS[name]()
        model.eval()
        for out_path, dyn in todo:
            t0 = time.time()
            tmp = out_path + ".tmp"
            axes = {n: {0: "batch"} for n in in_names + out_names} if dyn else None
            torch.onnx.export(model, (example,), tmp, opset_version=OPSET,
                              input_names=in_names, output_names=out_names,
                              dynamic_axes=axes, do_constant_folding=True)
            os.replace(tmp, out_path)
            size = os.path.getsize(out_path)
            print(f"{name}: {out_path} ({size / 1e6:.1f} MB, {time.time() - t0:.1f} s)")


if __name__ == "__main__":
    main()
