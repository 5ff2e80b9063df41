/* The runtime's "sim" device: a compiled model (.ncx) run on the simulator.
 *
 * A model is the validated artifact plus what its meta JSON says: the chip
 * config it was compiled for, the partitions in execution order (chip
 * partitions: an instruction range of core 0's program; host partitions: an
 * ONNX model in the HOSTGRAPH section with the names of the tensors it reads
 * and writes), and the layer of each instruction.
 *
 * A session owns one simulator (weights written into its DRAM once) and, in
 * functional mode, a CPU executor per host partition. A run writes the inputs
 * into DRAM, runs the partitions in order (chip ones on the simulator, host
 * ones on the CPU device, reading and writing their tensors in the
 * simulator's DRAM), and reads the outputs back. Timing-only sessions
 * (sim_no_values) skip the host partitions and return zero-filled outputs.
 *
 * A pipeline artifact (meta "mode": "pipeline", docs/SIM.md) has one whole
 * program per core and no host partition: the session loads program k on
 * core k and writes the RESIDENT sections into the cores' resident areas
 * once; a run runs all cores at once. Streams (simrt_session_stream) run
 * the single, data-parallel or pipeline mode on a simulator of their own.
 *
 * api.c's glue: nc_model_load_file recognises the magic (simrt_is_ncx) and
 * keeps a simrt_model; nc_session_create on device "sim" makes a
 * simrt_session; nc_session_run binds inputs by model input index and calls
 * simrt_session_run. */
#ifndef NC_DEVICE_SIM_RUNTIME_H
#define NC_DEVICE_SIM_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ncore.h"

typedef struct simrt_model simrt_model;
typedef struct simrt_session simrt_session;

/* True if the bytes start with the .ncx magic "NCX1". */
bool simrt_is_ncx(const void *bytes, size_t size);
/* Load and validate (NC_ERR_PARSE naming the field for a bad artifact). */
nc_status simrt_model_load_bytes(const void *bytes, size_t size, simrt_model **out);
nc_status simrt_model_load_file(const char *path, simrt_model **out);
void simrt_model_free(simrt_model *m);

int simrt_model_num_inputs(const simrt_model *m);
int simrt_model_num_outputs(const simrt_model *m);
/* Strings live as long as the model. */
nc_status simrt_model_io_info(const simrt_model *m, bool output, int index, nc_tensor_info *info);
const char *simrt_model_target(const simrt_model *m);
const char *simrt_model_name(const simrt_model *m);
uint64_t simrt_model_weight_bytes(const simrt_model *m);
/* Nodes in the host partitions. */
int64_t simrt_model_host_nodes(const simrt_model *m);
/* Visit the host partitions' op types, as nc_model_visit_ops does. */
void simrt_model_visit_ops(const simrt_model *m, nc_op_visit_fn fn, void *user);

/* The model must outlive the session. */
nc_status simrt_session_create(const simrt_model *m, const nc_session_options *opts, simrt_session **out);
void simrt_session_free(simrt_session *s);
/* inputs[i]: model input i (dtype and shape checked against the artifact);
 * outputs[i]: a new tensor for model output i. */
nc_status simrt_session_run(simrt_session *s, const nc_tensor *const *inputs, nc_tensor **outputs);
/* Of the last run; NC_ERR_INVALID_ARG before the first. */
nc_status simrt_session_stats(const simrt_session *s, nc_sim_stats *st);
nc_status simrt_session_write_trace(const simrt_session *s, const char *path);
nc_status simrt_session_write_summary(const simrt_session *s, const char *path);
/* A request stream (ncore.h, nc_session_simulate_stream) on a simulator of
 * its own, timing only: the session's last run is left alone. */
nc_status simrt_session_stream(simrt_session *s, const nc_sim_stream_options *o, nc_sim_stream_stats *out);

/* The glue in src/runtime/api.c: the sim model behind a compiled nc_model,
 * the sim session behind an nc_session on device "sim"; NULL otherwise.
 * src/runtime/sim_api.c has weak stand-ins returning NULL until api.c
 * defines them. */
const simrt_model *simrt_model_of(const nc_model *m);
simrt_session *simrt_session_of(const nc_session *s);

#endif
