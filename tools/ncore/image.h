/* Precision tooling of the ncore CLI (ncore quantize, run --compare-fp32):
 * photos as model inputs (JPEG through libjpeg) and accuracy reports of a
 * lower precision against fp32 on the same inputs. Uses only ncore.h. */
#ifndef NCORE_IMAGE_H
#define NCORE_IMAGE_H

#include <stdbool.h>
#include <stdio.h>

#include "ncore.h"

/* Deterministic variants of one photo (index 0..NQ_IMAGE_VARIANTS-1):
 * 0 is the standard ImageNet view (shorter side to 256/224 of the crop
 * size, center crop); the others resize the shorter side to 240..320 (for a
 * 224 crop), crop at the center or a corner, and some flip horizontally. */
#define NQ_IMAGE_VARIANTS 8

/* Is this a JPEG file name (.jpg/.jpeg, any case)? */
bool nq_is_jpeg(const char *path);

/* Decode the JPEG at path into a new [1, 3, size, size] float32 tensor,
 * ImageNet-preprocessed (RGB / 255, minus mean 0.485/0.456/0.406, over std
 * 0.229/0.224/0.225), view `variant`. A corrupt or truncated file (libjpeg
 * errors and warnings alike) fails with a message naming the file in err.
 * Returns 0 on success. */
int nq_image_load(const char *path, int variant, int size, nc_tensor **out, char *err, size_t cap);

/* Accuracy of outputs against fp32 references, accumulated over runs. */
typedef struct nq_acc {
    double max_abs;        /* largest |test - ref| over every element */
    double cos_sum, cos_min;
    int n;                 /* output tensors compared */
    int top1_same, top1_n; /* classifier outputs ([..., C], C > 1): argmax */
    bool mismatch;         /* a pair differed in dtype or shape */
} nq_acc;

void nq_acc_init(nq_acc *a);
void nq_acc_add(nq_acc *a, const nc_tensor *ref, const nc_tensor *test);
/* One line per figure on f, prefixed by label. */
void nq_acc_print(const nq_acc *a, FILE *f, const char *label);
/* A JSON object (no trailing newline). */
void nq_acc_json(const nq_acc *a, FILE *f);

/* Run the fp32 reference (session options base with auto_cast cleared) on
 * the same inputs and print the accuracy of outs against it. 0 on success,
 * else CLI_FAIL with the message printed. */
int nq_compare_fp32(nc_model *m, const nc_session_options *base, int n_in, const char *const *in_names,
                    nc_tensor *const *ins, int n_out, nc_tensor *const *outs);

#endif
