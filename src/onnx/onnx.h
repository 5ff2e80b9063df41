/* ONNX import: protobuf bytes -> ir_model.
 *
 * The importer parses with protobuf-c (bindings generated at build time from
 * the system's onnx.proto), then builds the IR: values, nodes, attributes,
 * initializers (raw, typed and external data), If subgraphs with outer-scope
 * references, Constant nodes folded into constants, symbolic dims. It sorts
 * the graph, resolves every node against the op registry (an unknown op is an
 * error naming node, op, domain and opset) and runs static shape inference. */
#ifndef NC_ONNX_ONNX_H
#define NC_ONNX_ONNX_H

#include <stddef.h>

#include "ir/graph.h"
#include "ncore.h"

nc_status onnx_load_file(const char *path, const nc_load_options *opts, ir_model **out);
/* base_dir resolves external data; NULL refuses external data. */
nc_status onnx_load_bytes(const void *data, size_t size, const char *base_dir,
                          const nc_load_options *opts, ir_model **out);
/* A serialized TensorProto. *name (if name is not NULL) is malloc'd or NULL. */
nc_status onnx_tensor_from_pb(const void *data, size_t size, nc_tensor **out, char **name);

#endif
