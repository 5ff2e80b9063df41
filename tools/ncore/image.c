/* JPEG input (libjpeg, Debian libjpeg62-turbo-dev) and accuracy reports;
 * see image.h. */
#include "image.h"

#include <ctype.h>
#include <jpeglib.h>
#include <math.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

bool nq_is_jpeg(const char *path) {
    const char *dot = strrchr(path, '.');
    if (!dot) return false;
    char ext[8] = {0};
    for (int i = 0; i < 7 && dot[1 + i]; i++) ext[i] = (char)tolower((unsigned char)dot[1 + i]);
    return !strcmp(ext, "jpg") || !strcmp(ext, "jpeg");
}

/* shorter side as a multiple of the crop (x/224), crop anchor (0 start,
 * 1 center, 2 end) on each axis, mirror */
static const struct {
    int resize;
    int ax, ay;
    bool flip;
} k_variants[NQ_IMAGE_VARIANTS] = {
    {256, 1, 1, false}, {256, 1, 1, true},  {256, 0, 0, false}, {256, 2, 2, false},
    {288, 1, 1, false}, {320, 1, 1, true},  {240, 1, 1, false}, {288, 2, 0, true},
};

typedef struct jerr {
    struct jpeg_error_mgr mgr;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
} jerr;

static void on_error(j_common_ptr c) {
    jerr *e = (jerr *)c->err;
    c->err->format_message(c, e->msg);
    longjmp(e->jb, 1);
}

/* A warning (a truncated file is one: libjpeg pads it with gray) is an
 * error here: a half-decoded photo would skew calibration silently. */
static void on_message(j_common_ptr c, int level) {
    if (level < 0) on_error(c);
}

int nq_image_load(const char *path, int variant, int size, nc_tensor **out, char *err, size_t cap) {
    *out = NULL;
    if (variant < 0 || variant >= NQ_IMAGE_VARIANTS || size < 1) {
        snprintf(err, cap, "%s: bad image variant %d or size %d", path, variant, size);
        return -1;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, cap, "cannot open image '%s'", path);
        return -1;
    }
    struct jpeg_decompress_struct ci;
    jerr je;
    unsigned char *volatile pix = NULL;
    ci.err = jpeg_std_error(&je.mgr);
    je.mgr.error_exit = on_error;
    je.mgr.emit_message = on_message;
    if (setjmp(je.jb)) {
        snprintf(err, cap, "image '%s' is not a readable JPEG: %s", path, je.msg);
        jpeg_destroy_decompress(&ci);
        free(pix);
        fclose(f);
        return -1;
    }
    jpeg_create_decompress(&ci);
    jpeg_stdio_src(&ci, f);
    jpeg_read_header(&ci, TRUE);
    ci.out_color_space = JCS_RGB;
    jpeg_start_decompress(&ci);
    int W = (int)ci.output_width, H = (int)ci.output_height;
    if (ci.output_components != 3 || W < 1 || H < 1 || (size_t)W * (size_t)H > (size_t)1 << 28) {
        snprintf(err, cap, "image '%s': unsupported size %dx%d", path, W, H);
        jpeg_destroy_decompress(&ci);
        fclose(f);
        return -1;
    }
    pix = malloc((size_t)W * (size_t)H * 3);
    if (!pix) {
        snprintf(err, cap, "image '%s': out of memory", path);
        jpeg_destroy_decompress(&ci);
        fclose(f);
        return -1;
    }
    while (ci.output_scanline < ci.output_height) {
        JSAMPROW row = pix + (size_t)ci.output_scanline * (size_t)W * 3;
        jpeg_read_scanlines(&ci, &row, 1);
    }
    jpeg_finish_decompress(&ci);
    jpeg_destroy_decompress(&ci);
    fclose(f);

    /* resize (bilinear, half-pixel centers) and crop in one pass */
    double short_to = (double)k_variants[variant].resize * size / 224.0;
    double r = short_to / (W < H ? W : H);
    double RW = W * r, RH = H * r;
    double ox = k_variants[variant].ax * (RW - size) / 2, oy = k_variants[variant].ay * (RH - size) / 2;
    int64_t dims[4] = {1, 3, size, size};
    if (nc_tensor_create(NC_DTYPE_F32, 4, dims, out) != NC_OK) {
        snprintf(err, cap, "image '%s': %s", path, nc_last_error());
        free(pix);
        return -1;
    }
    float *d = nc_tensor_data(*out);
    static const float mean[3] = {0.485f, 0.456f, 0.406f}, sd[3] = {0.229f, 0.224f, 0.225f};
    for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++) {
            int xo = k_variants[variant].flip ? size - 1 - x : x;
            double sx = (xo + ox + 0.5) / r - 0.5, sy = (y + oy + 0.5) / r - 0.5;
            sx = sx < 0 ? 0 : sx > W - 1 ? W - 1 : sx;
            sy = sy < 0 ? 0 : sy > H - 1 ? H - 1 : sy;
            int x0 = (int)sx, y0 = (int)sy;
            int x1 = x0 + 1 < W ? x0 + 1 : x0, y1 = y0 + 1 < H ? y0 + 1 : y0;
            double fx = sx - x0, fy = sy - y0;
            for (int c = 0; c < 3; c++) {
                double p00 = pix[((size_t)y0 * W + x0) * 3 + c], p01 = pix[((size_t)y0 * W + x1) * 3 + c];
                double p10 = pix[((size_t)y1 * W + x0) * 3 + c], p11 = pix[((size_t)y1 * W + x1) * 3 + c];
                double v = (p00 * (1 - fx) + p01 * fx) * (1 - fy) + (p10 * (1 - fx) + p11 * fx) * fy;
                d[((size_t)c * size + y) * size + x] = ((float)(v / 255.0) - mean[c]) / sd[c];
            }
        }
    free(pix);
    return 0;
}

/* ---- accuracy ---- */

void nq_acc_init(nq_acc *a) {
    memset(a, 0, sizeof *a);
    a->cos_min = 1;
}

void nq_acc_add(nq_acc *a, const nc_tensor *ref, const nc_tensor *test) {
    int nd = nc_tensor_ndim(ref);
    int64_t n = nc_tensor_numel(ref);
    if (nc_tensor_dtype(ref) != nc_tensor_dtype(test) || nd != nc_tensor_ndim(test) || n != nc_tensor_numel(test)) {
        a->mismatch = true;
        return;
    }
    nc_dtype dt = nc_tensor_dtype(ref);
    const void *rd = nc_tensor_data((nc_tensor *)ref), *td = nc_tensor_data((nc_tensor *)test);
    double dot = 0, rr = 0, tt = 0;
    for (int64_t i = 0; i < n; i++) {
        double x = cli_elem_f64(dt, rd, i), y = cli_elem_f64(dt, td, i);
        double e = fabs(x - y);
        if (e > a->max_abs || e != e) a->max_abs = e != e ? INFINITY : e;
        dot += x * y, rr += x * x, tt += y * y;
    }
    double cs = rr > 0 && tt > 0 ? dot / sqrt(rr * tt) : (rr == tt ? 1 : 0);
    a->cos_sum += cs;
    if (cs < a->cos_min) a->cos_min = cs;
    a->n++;
    /* classifier: argmax over the last axis, per row */
    const int64_t *dims = nc_tensor_dims(ref);
    int64_t C = nd >= 1 ? dims[nd - 1] : 0;
    if (C > 1 && (dt == NC_DTYPE_F32 || dt == NC_DTYPE_F16 || dt == NC_DTYPE_BF16 || dt == NC_DTYPE_F64))
        for (int64_t row = 0; row < n / C; row++) {
            int64_t br = 0, bt = 0;
            for (int64_t c = 1; c < C; c++) {
                if (cli_elem_f64(dt, rd, row * C + c) > cli_elem_f64(dt, rd, row * C + br)) br = c;
                if (cli_elem_f64(dt, td, row * C + c) > cli_elem_f64(dt, td, row * C + bt)) bt = c;
            }
            a->top1_same += br == bt;
            a->top1_n++;
        }
}

void nq_acc_print(const nq_acc *a, FILE *f, const char *label) {
    fprintf(f, "%s: %d output tensors compared%s\n", label, a->n, a->mismatch ? " (some differed in shape: skipped)" : "");
    fprintf(f, "%s: max abs error %.6g\n", label, a->max_abs);
    fprintf(f, "%s: cosine similarity mean %.6f, min %.6f\n", label, a->n ? a->cos_sum / a->n : 0.0,
            a->n ? a->cos_min : 0.0);
    if (a->top1_n)
        fprintf(f, "%s: top-1 agreement %d/%d (%.2f%%)\n", label, a->top1_same, a->top1_n,
                100.0 * a->top1_same / a->top1_n);
}

void nq_acc_json(const nq_acc *a, FILE *f) {
    fprintf(f, "{\"compared\": %d, \"max_abs_error\": %.9g, \"cosine_mean\": %.9f, \"cosine_min\": %.9f", a->n,
            isfinite(a->max_abs) ? a->max_abs : -1.0, a->n ? a->cos_sum / a->n : 0.0, a->n ? a->cos_min : 0.0);
    if (a->top1_n)
        fprintf(f, ", \"top1_agree\": %d, \"top1_total\": %d, \"top1_agreement\": %.6f", a->top1_same, a->top1_n,
                (double)a->top1_same / a->top1_n);
    fputc('}', f);
}

int nq_compare_fp32(nc_model *m, const nc_session_options *base, int n_in, const char *const *in_names,
                    nc_tensor *const *ins, int n_out, nc_tensor *const *outs) {
    nc_session_options so = *base;
    so.auto_cast = NULL;
    nc_session *s = NULL;
    nc_tensor **ref = calloc((size_t)n_out + 1, sizeof *ref);
    int rc = CLI_OK;
    if (!ref) return cli_fail("out of memory");
    if (nc_session_create(m, &so, &s) != NC_OK) rc = cli_fail_lib();
    else if (nc_session_run(s, n_in, in_names, ins, n_out, NULL, ref) != NC_OK)
        rc = cli_fail("fp32 reference run: %s", nc_session_last_error(s));
    if (rc == CLI_OK) {
        nq_acc a;
        nq_acc_init(&a);
        for (int i = 0; i < n_out; i++) nq_acc_add(&a, ref[i], outs[i]);
        nq_acc_print(&a, stdout, base->auto_cast && base->auto_cast[0] ? base->auto_cast : "precision");
        printf("accuracy: ");
        nq_acc_json(&a, stdout);
        printf("\n");
    }
    for (int i = 0; i < n_out; i++) nc_tensor_free(ref[i]);
    free(ref);
    nc_session_free(s);
    return rc;
}
