/* Inside the importer: the load context, the wire-format depth check and the
 * TensorProto conversion shared by initializers, attributes and .pb files. */
#ifndef NC_ONNX_PRIV_H
#define NC_ONNX_PRIV_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/tensor.h"
#include "ncore.h"
#include "onnx.pb-c.h"

/* Deepest protobuf message nesting accepted before protobuf-c unpacks
 * (protobuf-c recurses once per level). A subgraph level costs three
 * (Graph > Node > Attribute), so this leaves room for ONNX_MAX_SUBGRAPH_DEPTH. */
#define ONNX_MAX_WIRE_DEPTH 100
/* Deepest If-inside-If nesting accepted. */
#define ONNX_MAX_SUBGRAPH_DEPTH 16
#define ONNX_DEFAULT_MAX_BYTES ((uint64_t)4 << 30)

typedef struct onnx_ctx {
    const char *base_dir; /* directory for external data; NULL refuses it */
    char *base_real;      /* realpath(base_dir), filled on first use */
    uint64_t max_bytes;   /* limit on the model bytes and on external data */
    uint64_t used_bytes;  /* model bytes plus external data read so far */
    bool allow_unsupported; /* keep nodes with no registry entry (def NULL) */
} onnx_ctx;

/* Walk the protobuf wire format of a message of type desc and fail
 * (NC_ERR_PARSE, NC_ERR_LIMIT) if it is malformed or nests messages deeper
 * than max_depth. Linear in size, no allocation. */
nc_status onnx_wire_check(const ProtobufCMessageDescriptor *desc, const void *data, size_t size,
                          int max_depth);

/* A TensorProto as a new tensor. what names it in messages ("initializer
 * 'w'"). External data is read through c (c may be NULL: refused). */
nc_status onnx_tensor_convert(onnx_ctx *c, const Onnx__TensorProto *tp, const char *what,
                              nc_tensor **out);

/* A numeric ONNX element type ncore computes on, or UNDEFINED. */
nc_dtype onnx_dtype(int32_t onnx_type);

#endif
