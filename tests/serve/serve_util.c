/* Helpers for the serve tests (serve_test.sh), so the script needs no Python:
 *   serve_util model FILE   write the test model "double": y = x + x, with x
 *                           and y float32 [N, M], both dims symbolic, so the
 *                           server can batch along N and M tells requests
 *                           apart in shape
 *   serve_util f32 V...     V as little-endian float32 on stdout
 *   serve_util f32dec       little-endian float32 from stdin, one per line */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/test_onnx_build.h"

static int write_model(const char *path) {
    const int64_t dims[2] = {-1, -1};
    Onnx__GraphProto *g = ob_graph("double");
    Onnx__ValueInfoProto *x = ob_vi("x", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 2, dims);
    Onnx__ValueInfoProto *y = ob_vi("y", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 2, dims);
    /* ob_vi names every unknown dim "N"; the second one is another dim */
    x->type->tensor_type->shape->dim[1]->dim_param = ob_str("M");
    y->type->tensor_type->shape->dim[1]->dim_param = ob_str("M");
    ob_add_input(g, x);
    ob_add_output(g, y);
    ob_add_node(g, ob_node("Add", "add", "x", "x", "y"));
    size_t len;
    uint8_t *buf = ob_pack(ob_model(8, "", 14, g), &len);
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(buf, 1, len, f) == len;
    if (f && fclose(f) != 0) ok = 0;
    ob_free_all();
    if (!ok) fprintf(stderr, "serve_util: cannot write %s\n", path);
    return ok ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "model") == 0) return write_model(argv[2]);
    if (argc >= 2 && strcmp(argv[1], "f32") == 0) {
        for (int i = 2; i < argc; i++) {
            char *end;
            float v = strtof(argv[i], &end);
            if (*end || end == argv[i]) {
                fprintf(stderr, "serve_util: '%s' is not a number\n", argv[i]);
                return 1;
            }
            unsigned char b[4];
            memcpy(b, &v, 4); /* x86 and the protocol are both little-endian */
            fwrite(b, 1, 4, stdout);
        }
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "f32dec") == 0) {
        unsigned char b[4];
        size_t n;
        while ((n = fread(b, 1, 4, stdin)) == 4) {
            float v;
            memcpy(&v, b, 4);
            printf("%.9g\n", v);
        }
        if (n) {
            fprintf(stderr, "serve_util: %zu bytes left over\n", n);
            return 1;
        }
        return 0;
    }
    fprintf(stderr, "usage: serve_util model FILE | f32 V... | f32dec\n");
    return 2;
}
