/* Shared pieces of the `ncore` command-line tool. The tool uses only the
 * public API (ncore.h); nothing here reaches into the library's internals.
 *
 * Exit codes: 0 success, 1 runtime error (message on stderr), 2 usage error. */
#ifndef NCORE_CLI_H
#define NCORE_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ncore.h"

enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

int cmd_info(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_list_ops(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_compile(int argc, char **argv);
int cmd_profile(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_perf(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_quantize(int argc, char **argv);

/* "ncore: error: <msg>" on stderr; returns CLI_FAIL. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "ncore: error: <nc_last_error()>"; returns CLI_FAIL. */
int cli_fail_lib(void);
/* "ncore CMD: <msg>" plus a pointer to --help on stderr; returns CLI_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Option parsing: if argv[*i] is `flag` or `flag=VALUE`, set *val (taking
 * argv[*i+1] in the first form), advance *i past the option and return 1;
 * return 0 if it is another argument and -1 if the value is missing. */
int cli_opt_value(int argc, char **argv, int *i, const char *flag, const char **val);
/* Parse a decimal integer in [lo, hi]; false if it is not one. */
bool cli_parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out);

/* JSON string literal of s (with quotes) on f. */
void cli_json_str(FILE *f, const char *s);
/* "[1,batch,?,224]" for an nc_tensor_info shape, into buf. */
const char *cli_shape_str(const nc_tensor_info *ti, char *buf, size_t cap);
/* The shape as a JSON array: numbers, names as strings, null for unknown. */
void cli_json_shape(FILE *f, const nc_tensor_info *ti);
/* A dtype's name, "undefined" for an unknown one. */
const char *cli_dtype_name(nc_dtype dt);

/* ---- Random inputs (inputs.c), shared by run and bench ---- */
#define CLI_MAX_BINDINGS 64

/* --dim NAME=VALUE (ndim -1, value in dims[0]) or --shape NAME=D0,D1,... */
typedef struct cli_binding {
    const char *name;
    int ndim;
    int64_t dims[NC_MAX_DIMS];
    bool used;
} cli_binding;

typedef struct cli_inputs {
    cli_binding binds[CLI_MAX_BINDINGS];
    int n_binds;
    int64_t batch;  /* > 0: the size of every unknown leading dimension */
    bool defaulted; /* an unknown dimension was set to 1 */
} cli_inputs;

/* If argv[*i] is --dim or --shape, record it, advance *i and return true,
 * with *rc CLI_OK, or CLI_USAGE (message printed) for a bad value. */
bool cli_inputs_parse(cli_inputs *in, const char *cmd, int argc, char **argv, int *i, int *rc);
/* A new fixed-seed random tensor for model input ti: its --shape, else its
 * dims with the batch and --dim bindings, unknown ones 1. Floats uniform in
 * [0,1), integers and bools 0. */
int cli_inputs_random(cli_inputs *in, const nc_tensor_info *ti, uint64_t *rng, nc_tensor **out);
/* A warning on stderr for each --dim/--shape that matched nothing. */
void cli_inputs_warn_unused(const cli_inputs *in);

/* A new empty temporary file, $TMPDIR/ncore-WHAT-XXXXXX (malloc'ed path;
 * the caller unlinks and frees it), NULL on failure. */
char *cli_temp_file(const char *what);

struct cJSON;
/* A stream's figures (requests, throughput, window, latency_us,
 * per_inference bytes, mac_util, bubble_pct) added to JSON object o. */
void cli_stream_json(struct cJSON *o, const nc_sim_stream_stats *s);

/* Element i of a tensor's data as double (f16/bf16 decoded). */
double cli_elem_f64(nc_dtype dt, const void *data, int64_t i);

#endif
