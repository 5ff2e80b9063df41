/* ortref — run a model with ONNX Runtime, our correctness oracle and speed
 * peer. ONNX Runtime is dlopen()ed at run time (scripts/fetch_models.sh puts
 * it in the cache), so nothing links against it and a machine without it
 * still builds everything else.
 *
 * Tensors cross the boundary as ncore's public nc_tensor: the two runtimes
 * share ONNX's data-type numbering, so no conversion is needed.
 *
 * Every fallible call returns 0 on success and -1 on failure, with a message
 * in the caller's err buffer (cap bytes). */
#ifndef NC_TOOLS_ORTREF_H
#define NC_TOOLS_ORTREF_H

#include <stddef.h>

#include "ncore.h"

typedef struct ortref_env ortref_env;
typedef struct ortref_session ortref_session;

/* The cache directory: $NCORE_CACHE, else $HOME/.cache/ncore. Writes into
 * buf; returns buf, or NULL if it does not fit. */
const char *ortref_cache_dir(char *buf, size_t cap);

/* Load libonnxruntime from lib_path (NULL: <cache>/ort/libonnxruntime.so.1)
 * and create an ORT environment that logs errors only. */
int ortref_env_open(const char *lib_path, ortref_env **out, char *err, size_t cap);
void ortref_env_close(ortref_env *env);
/* "1.30.0" */
const char *ortref_env_version(const ortref_env *env);

/* A session with `threads` intra-op threads (0: ORT's default) and all
 * graph optimizations, or none if optimize is 0 (to see how much ORT's own
 * fusions move the numbers). */
int ortref_session_open(ortref_env *env, const char *model_path, int threads, int optimize,
                        ortref_session **out, char *err, size_t cap);
void ortref_session_close(ortref_session *s);

int ortref_num_inputs(const ortref_session *s);
int ortref_num_outputs(const ortref_session *s);
const char *ortref_input_name(const ortref_session *s, int i);
const char *ortref_output_name(const ortref_session *s, int i);
/* Describe input or output i ("input 'x': float32 [1,'N',64]") into buf. */
const char *ortref_describe(const ortref_session *s, int is_output, int i,
                            char *buf, size_t cap);

/* Run once. outputs receives ortref_num_outputs() new tensors (free each
 * with nc_tensor_free), in the model's output order. */
int ortref_run(ortref_session *s, int n_inputs, const char *const *names,
               nc_tensor *const *inputs, nc_tensor **outputs, char *err, size_t cap);

/* Copy name into buf with every character outside [A-Za-z0-9._-] replaced by
 * '_' (and a leading '.' too), so it can name a file; a name longer than 180
 * characters is cut there and gets a hash of the whole appended. cap >= 200. */
const char *ortref_file_name(const char *name, char *buf, size_t cap);

#endif
