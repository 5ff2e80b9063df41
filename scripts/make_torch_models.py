#!/usr/bin/python3
"""Export standard architectures with random weights to ONNX (dev/bench step).

    /usr/bin/python3 scripts/make_torch_models.py [CACHE_DIR] [--only NAME,...]

Writes CACHE_DIR/torch/<name>.onnx (CACHE_DIR defaults to $NCORE_CACHE or
~/.cache/ncore): ResNet-50, MobileNetV2, SqueezeNet 1.1, EfficientNet-B0 and
DenseNet-121 from torchvision (batch 1x3x224x224), and a BERT-like
torch.nn.TransformerEncoder (6 layers, d_model 384, 12 heads, FFN 1536,
sequence 128, batch 1, batch_first). Random weights from torch.manual_seed(0),
eval mode, opset 13, fixed shapes. They test graphs and numerics, not accuracy.

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


def calibrate_batchnorm(model, batches=4):
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
            model(torch.randn(8, 3, 224, 224))
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


MODELS = {
    "resnet50": cnn(torchvision.models.resnet50),
    "mobilenet_v2": cnn(torchvision.models.mobilenet_v2),
    "squeezenet1_1": cnn(torchvision.models.squeezenet1_1),
    "efficientnet_b0": cnn(torchvision.models.efficientnet_b0),
    "densenet121": cnn(torchvision.models.densenet121),
    "bert_encoder": encoder,
    "bert_base": bert_base,
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
