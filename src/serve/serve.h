/* ncore_serve: an Open Inference Protocol (KServe v2) server over libncore.
 * The protocol it speaks is specified in docs/SERVING.md. This header is what
 * the `ncore serve` command and the fuzz target use; the library uses only
 * the public API of libncore (ncore.h). */
#ifndef NCORE_SERVE_H
#define NCORE_SERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ncore.h"

typedef struct srv_options {
    const char *repository;      /* model repository directory (required) */
    const char *host;            /* IPv4 address to bind; NULL = 127.0.0.1 */
    int port;                    /* 0 = any free port */
    const char *device;          /* session device; NULL = "cpu" */
    int threads;                 /* intra-op threads per instance, 0 = default */
    int http_threads;            /* 0 = 2 */
    uint64_t max_body_bytes;     /* 0 = 64 MiB */
    int64_t max_elements;        /* per request, summed over inputs; 0 = 4 Mi */
    unsigned connection_timeout; /* seconds; 0 = 30 */
    int64_t max_queue_size;      /* default queue bound; 0 = 1024 */
    int64_t default_timeout_us;  /* default queue timeout; 0 = none */
} srv_options;

typedef struct srv_server srv_server;

/* Load the repository and start listening. Model load failures are reported
 * on stderr and leave the model UNAVAILABLE; only a bad repository or a
 * socket that cannot be bound fail. The caller should block SIGINT/SIGTERM
 * (pthread_sigmask) before this call so no server thread receives them. */
nc_status srv_server_start(const srv_options *opts, srv_server **out);
/* The bound TCP port. */
int srv_server_port(const srv_server *s);
/* Graceful stop: refuse new connections, finish what was received, free. */
void srv_server_stop(srv_server *s);

/* ---- Request parsing without HTTP (the fuzz target's entry) ------------- */

/* What the parser validates a request against: a model's inputs and outputs
 * as served (dims -1 where variable, the batch dim included). */
typedef struct srv_io {
    int n_inputs, n_outputs;
    nc_tensor_info *inputs, *outputs; /* names owned elsewhere */
    int64_t max_batch_size;           /* > 0: dim 0 of inputs is the batch */
} srv_io;

typedef struct srv_limits {
    int64_t max_elements;
} srv_limits;

/* An error to answer with: HTTP-like status class and a message. */
typedef struct srv_error {
    int code;
    char msg[320];
} srv_error;

/* A parsed inference request. inputs[i] is model input i (srv_io order). */
typedef struct srv_request {
    char *id;                /* "" if absent */
    nc_tensor **inputs;      /* n_inputs tensors, owned */
    int n_inputs;
    int64_t batch;           /* dim 0 when batching, else 1 */
    int n_outputs;           /* requested outputs, in response order */
    int *output_index;       /* index into srv_io.outputs */
    bool *output_binary;
    int64_t timeout_us;      /* 0 = none given */
} srv_request;

/* Parse a request body. header_len < 0: the body is all JSON; otherwise the
 * first header_len bytes are JSON and the rest is binary tensor data. On
 * failure *out is NULL and err holds a 4xx code and a message. */
bool srv_request_parse(const void *body, size_t len, int64_t header_len, const srv_io *io,
                       const srv_limits *lim, srv_request **out, srv_error *err);
void srv_request_free(srv_request *r);

/* Encode a response. outs[k] is the tensor of requested output k. Sets *body
 * (malloc'ed), *len and *header_len (-1 when the response is all JSON). */
bool srv_response_encode(const srv_request *r, const srv_io *io, const char *model,
                         const char *version, nc_tensor *const *outs, char **body,
                         size_t *len, int64_t *header_len, srv_error *err);

/* The KServe v2 datatype name of a dtype ("FP32"), NULL if none. */
const char *srv_dtype_kserve(nc_dtype dt);
/* The dtype of a KServe v2 datatype name; NC_DTYPE_UNDEFINED if none. */
nc_dtype srv_dtype_from_kserve(const char *name);

#endif
