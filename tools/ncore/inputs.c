/* Random inputs for `ncore run --random` and `ncore bench`: --dim and
 * --shape bindings and a fixed-seed fill. */
#include <string.h>

#include "cli.h"

bool cli_inputs_parse(cli_inputs *in, const char *cmd, int argc, char **argv, int *i, int *rc) {
    const char *v = NULL;
    int r;
    *rc = CLI_OK;
    if ((r = cli_opt_value(argc, argv, i, "--dim", &v)) != 0) {
        char *eq = r > 0 ? strrchr(v, '=') : NULL;
        int64_t n;
        if (!eq || eq == v || !cli_parse_int(eq + 1, 0, INT64_MAX / 2, &n)) {
            *rc = cli_usage(cmd, "--dim needs NAME=VALUE with VALUE >= 0");
        } else if (in->n_binds == CLI_MAX_BINDINGS) {
            *rc = cli_usage(cmd, "more than %d --dim/--shape options", CLI_MAX_BINDINGS);
        } else {
            *eq = '\0'; /* the name is the text before '=' */
            in->binds[in->n_binds++] = (cli_binding){v, -1, {n}, false};
        }
        return true;
    }
    if ((r = cli_opt_value(argc, argv, i, "--shape", &v)) != 0) {
        char *eq = r > 0 ? strchr(v, '=') : NULL;
        if (!eq || eq == v) {
            *rc = cli_usage(cmd, "--shape needs NAME=D0,D1,...");
            return true;
        }
        if (in->n_binds == CLI_MAX_BINDINGS) {
            *rc = cli_usage(cmd, "more than %d --dim/--shape options", CLI_MAX_BINDINGS);
            return true;
        }
        cli_binding *b = &in->binds[in->n_binds++];
        *eq = '\0';
        *b = (cli_binding){v, 0, {0}, false};
        /* "NAME=" alone is a scalar; else comma-separated sizes. */
        for (char *p = eq + 1, *next; *p; p = next) {
            next = strchr(p, ',');
            if (next) *next++ = '\0';
            else next = p + strlen(p);
            if (b->ndim == NC_MAX_DIMS || !cli_parse_int(p, 0, INT64_MAX / 2, &b->dims[b->ndim])) {
                *rc = cli_usage(cmd, "--shape %s: sizes must be up to %d integers >= 0, "
                                "separated by commas", v, NC_MAX_DIMS);
                return true;
            }
            b->ndim++;
        }
        return true;
    }
    return false;
}

static cli_binding *find_binding(cli_inputs *in, const char *name, bool shape) {
    for (int b = 0; b < in->n_binds; b++)
        if ((in->binds[b].ndim >= 0) == shape && !strcmp(in->binds[b].name, name)) return &in->binds[b];
    return NULL;
}

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform [0,1) values on a grid every float type holds exactly, so no
 * rounding is needed when encoding f16 or bf16. */
static void fill_uniform(nc_tensor *t, uint64_t *rng) {
    int64_t n = nc_tensor_numel(t);
    void *d = nc_tensor_data(t);
    switch (nc_tensor_dtype(t)) {
    case NC_DTYPE_F32:
        for (int64_t i = 0; i < n; i++) ((float *)d)[i] = (float)(splitmix64(rng) >> 40) * 0x1p-24f;
        break;
    case NC_DTYPE_F64:
        for (int64_t i = 0; i < n; i++) ((double *)d)[i] = (double)(splitmix64(rng) >> 11) * 0x1p-53;
        break;
    case NC_DTYPE_F16:
        for (int64_t i = 0; i < n; i++) {
            uint32_t k = (uint32_t)(splitmix64(rng) >> 53); /* k / 2048 */
            uint16_t h = 0;
            if (k) {
                int e = 31 - __builtin_clz(k); /* k = 1.f * 2^e */
                uint32_t man = (k << (10 - e)) & 0x3ffu;
                h = (uint16_t)(((uint32_t)(e - 11 + 15) << 10) | man);
            }
            ((uint16_t *)d)[i] = h;
        }
        break;
    case NC_DTYPE_BF16:
        for (int64_t i = 0; i < n; i++) {
            float f = (float)(splitmix64(rng) >> 56) * 0x1p-8f;
            uint32_t bits;
            memcpy(&bits, &f, 4);
            ((uint16_t *)d)[i] = (uint16_t)(bits >> 16);
        }
        break;
    default: /* integers and bools stay 0 */
        break;
    }
}

int cli_inputs_random(cli_inputs *in, const nc_tensor_info *ti, uint64_t *rng, nc_tensor **out) {
    if (nc_dtype_size(ti->dtype) == 0)
        return cli_fail("input '%s' has dtype %s, which cannot be made at random; give it with "
                        "--input %s=FILE", ti->name, cli_dtype_name(ti->dtype), ti->name);
    int64_t dims[NC_MAX_DIMS];
    int ndim = ti->ndim;
    cli_binding *sb = find_binding(in, ti->name, true);
    if (sb) {
        sb->used = true;
        ndim = sb->ndim;
        memcpy(dims, sb->dims, sizeof dims);
    } else {
        if (ndim < 0)
            return cli_fail("input '%s' has an unknown rank; give it with --shape %s=D0,D1,... "
                            "or --input %s=FILE", ti->name, ti->name, ti->name);
        for (int d = 0; d < ndim; d++) {
            dims[d] = ti->dims[d];
            if (dims[d] >= 0) continue;
            cli_binding *db = ti->dim_names[d] ? find_binding(in, ti->dim_names[d], false) : NULL;
            if (d == 0 && in->batch > 0) {
                dims[d] = in->batch;
            } else if (db) {
                db->used = true;
                dims[d] = db->dims[0];
            } else {
                dims[d] = 1;
                in->defaulted = true;
            }
        }
    }
    if (nc_tensor_create(ti->dtype, ndim, dims, out) != NC_OK)
        return cli_fail("input '%s': %s", ti->name, nc_last_error());
    fill_uniform(*out, rng);
    return CLI_OK;
}

void cli_inputs_warn_unused(const cli_inputs *in) {
    for (int b = 0; b < in->n_binds; b++)
        if (!in->binds[b].used)
            fprintf(stderr, "ncore: warning: --%s %s matches no %s\n",
                    in->binds[b].ndim < 0 ? "dim" : "shape", in->binds[b].name,
                    in->binds[b].ndim < 0 ? "unknown dimension of a random input" : "random input");
}
