/*
 * ncore.h — the public API of libncore, and its reference documentation.
 *
 * ncore loads ONNX models and runs them on a device: "cpu" (the graph
 * optimized and run on oneDNN kernels), "ref" (the graph as imported, on plain
 * reference kernels: the correctness oracle) or "sim" (a model compiled with
 * nc_compile for a NeuronCore chip, run on the chip simulator, which computes
 * the values and counts the cycles). The lifecycle is:
 *
 *     nc_model *model = NULL;
 *     if (nc_model_load_file("model.onnx", NULL, &model) != NC_OK) {
 *         fprintf(stderr, "%s\n", nc_last_error());
 *         return 1;
 *     }
 *     nc_session *sess = NULL;
 *     nc_session_create(model, NULL, &sess);          // device "cpu" by default
 *
 *     int64_t dims[4] = {1, 3, 224, 224};
 *     nc_tensor *x = NULL;
 *     nc_tensor_create(NC_DTYPE_F32, 4, dims, &x);    // zero-filled
 *     // ... fill nc_tensor_data(x) ...
 *
 *     const char *in_names[1] = {"input"};
 *     nc_tensor *outs[1] = {NULL};
 *     if (nc_session_run(sess, 1, in_names, &x, 1, NULL, outs) != NC_OK)
 *         fprintf(stderr, "%s\n", nc_session_last_error(sess));
 *     // outs[0] is a new tensor owned by the caller
 *
 *     nc_tensor_free(outs[0]); nc_tensor_free(x);
 *     nc_session_free(sess);  nc_model_free(model);
 *
 * Rules that hold for every call:
 * - Every fallible call returns an nc_status; NC_OK is 0, errors are negative.
 * - The detail of the last error is a message naming the thing at fault (file,
 *   node, input, field). nc_last_error() holds it for the calling thread; calls
 *   on a session also keep it in nc_session_last_error().
 * - Handles are opaque. Each type has one constructor and one destructor;
 *   destroying NULL is a harmless no-op.
 * - Output parameters come last. On failure they are left NULL.
 * - A model may be shared by many sessions; a session is used by one thread at
 *   a time.
 */
#ifndef NCORE_H
#define NCORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define NC_API __declspec(dllexport)
#else
#define NC_API __attribute__((visibility("default")))
#endif

/* ---- Version ------------------------------------------------------------
 * The major version is the shared library's SONAME; within a major version
 * calls are only added, never changed (a changed signature gets a new name). */
#define NC_VERSION_MAJOR 0
#define NC_VERSION_MINOR 1
#define NC_VERSION_PATCH 0
#define NC_VERSION_STRING "0.1.0"
#define NC_VERSION_NUMBER \
    (NC_VERSION_MAJOR * 10000 + NC_VERSION_MINOR * 100 + NC_VERSION_PATCH)

/* The version of the library actually linked (compare with the macros). */
NC_API const char *nc_version_string(void);
NC_API int nc_version_number(void);

/* ---- Status codes --------------------------------------------------------
 * One list; nc_status_name() and nc_status_str() derive from it. */
#define NC_STATUS_MAP(X)                                                      \
    X(OK, 0, "success")                                                       \
    X(ERR_INVALID_ARG, -1, "invalid argument")                                \
    X(ERR_NOMEM, -2, "out of memory")                                         \
    X(ERR_IO, -3, "input/output error")                                       \
    X(ERR_PARSE, -4, "malformed model or file")                               \
    X(ERR_UNSUPPORTED, -5, "unsupported operator, type or feature")           \
    X(ERR_SHAPE, -6, "shape mismatch")                                        \
    X(ERR_DTYPE, -7, "data type mismatch")                                    \
    X(ERR_NOT_FOUND, -8, "name not found")                                    \
    X(ERR_LIMIT, -9, "resource limit exceeded")                               \
    X(ERR_INVALID_MODEL, -10, "invalid model graph")                          \
    X(ERR_INTERNAL, -11, "internal error")

typedef enum nc_status {
#define NC__STATUS_ENUM(name, code, text) NC_##name = code,
    NC_STATUS_MAP(NC__STATUS_ENUM)
#undef NC__STATUS_ENUM
} nc_status;

/* "NC_ERR_SHAPE" for NC_ERR_SHAPE; "NC_UNKNOWN" for a code not in the list. */
NC_API const char *nc_status_name(nc_status status);
/* A short English description: "shape mismatch". */
NC_API const char *nc_status_str(nc_status status);
/* The message of the last failed call on this thread ("" if none). */
NC_API const char *nc_last_error(void);

/* ---- Data types ----------------------------------------------------------
 * Values equal ONNX's TensorProto.DataType, so files map one to one. */
typedef enum nc_dtype {
    NC_DTYPE_UNDEFINED = 0,
    NC_DTYPE_F32 = 1,
    NC_DTYPE_U8 = 2,
    NC_DTYPE_I8 = 3,
    NC_DTYPE_U16 = 4,
    NC_DTYPE_I16 = 5,
    NC_DTYPE_I32 = 6,
    NC_DTYPE_I64 = 7,
    NC_DTYPE_STRING = 8, /* recognised in files, not computed on */
    NC_DTYPE_BOOL = 9,   /* one byte per element, 0 or 1 */
    NC_DTYPE_F16 = 10,
    NC_DTYPE_F64 = 11,
    NC_DTYPE_U32 = 12,
    NC_DTYPE_U64 = 13,
    NC_DTYPE_BF16 = 16,
} nc_dtype;

/* "float32", "int64", ... (NumPy's names); NULL for an unknown value. */
NC_API const char *nc_dtype_name(nc_dtype dtype);
/* Bytes per element; 0 for an unknown or non-numeric type. */
NC_API size_t nc_dtype_size(nc_dtype dtype);

/* ---- Tensors -------------------------------------------------------------
 * A dense row-major tensor. Rank is at most NC_MAX_DIMS. */
#define NC_MAX_DIMS 8

typedef struct nc_tensor nc_tensor;

/* Constructor: a new zero-filled tensor that owns its data. ndim may be 0
 * (a scalar); dims may be NULL when ndim is 0. */
NC_API nc_status nc_tensor_create(nc_dtype dtype, int ndim, const int64_t *dims,
                                  nc_tensor **out);
/* Constructor: a tensor over caller memory, which must outlive the tensor and
 * hold at least nc_tensor_nbytes() bytes. The data is not copied. */
NC_API nc_status nc_tensor_wrap(nc_dtype dtype, int ndim, const int64_t *dims,
                                void *data, nc_tensor **out);
/* Destructor. */
NC_API void nc_tensor_free(nc_tensor *t);

NC_API nc_dtype nc_tensor_dtype(const nc_tensor *t);
NC_API int nc_tensor_ndim(const nc_tensor *t);
/* Pointer to ndim dimensions, valid while the tensor lives. */
NC_API const int64_t *nc_tensor_dims(const nc_tensor *t);
NC_API int64_t nc_tensor_numel(const nc_tensor *t);
NC_API size_t nc_tensor_nbytes(const nc_tensor *t);
NC_API void *nc_tensor_data(nc_tensor *t);

/* Constructor: read a tensor from a file: NumPy `.npy` (version 1-3,
 * little-endian, C order, numeric dtypes) or ONNX TensorProto `.pb` (as in
 * the ONNX test data). If name is not NULL it receives the name stored in a
 * `.pb` file (or NULL); free it with free(). */
NC_API nc_status nc_tensor_load(const char *path, nc_tensor **out, char **name);
/* Write t as a NumPy `.npy` file (version 1.0). */
NC_API nc_status nc_tensor_save_npy(const nc_tensor *t, const char *path);

/* ---- Models --------------------------------------------------------------
 * A model is an imported, validated graph. It is immutable once loaded and
 * may be shared by sessions on any thread. */
typedef struct nc_model nc_model;

typedef struct nc_load_options {
    /* Largest model file or external-data total accepted, in bytes
     * (0 = 4 GiB). */
    uint64_t max_file_bytes;
    /* Non-zero: load a model that uses ops ncore cannot run, so that it can
     * be inspected (nc_model_visit_ops reports them); creating a session on
     * it fails with NC_ERR_UNSUPPORTED naming them. Zero (the default): such
     * a model fails to load, naming the first such node. */
    int allow_unsupported;
} nc_load_options;

/* Constructor: load an ONNX file, or a compiled `.ncx` artifact (recognised
 * by its "NCX1" magic; see nc_compile). External data files are resolved
 * next to an ONNX file and may not escape its directory. */
NC_API nc_status nc_model_load_file(const char *path, const nc_load_options *opts,
                                    nc_model **out);
/* Constructor: load an ONNX model from memory. base_dir resolves external
 * data (NULL: external data is refused). The bytes are not kept. */
NC_API nc_status nc_model_load_bytes(const void *data, size_t size,
                                     const char *base_dir,
                                     const nc_load_options *opts, nc_model **out);
/* Destructor. Sessions hold a reference: a model may be freed before them. */
NC_API void nc_model_free(nc_model *model);

/* Shape and type of one model input or output. A dimension that is not known
 * until run time is -1; dim_names[i] then holds its symbolic name, if any. */
typedef struct nc_tensor_info {
    const char *name;
    nc_dtype dtype;
    int ndim; /* -1 if even the rank is unknown */
    int64_t dims[NC_MAX_DIMS];
    const char *dim_names[NC_MAX_DIMS];
} nc_tensor_info;

NC_API int nc_model_num_inputs(const nc_model *model);
NC_API int nc_model_num_outputs(const nc_model *model);
/* Strings in *info live as long as the model. */
NC_API nc_status nc_model_input_info(const nc_model *model, int index,
                                     nc_tensor_info *info);
NC_API nc_status nc_model_output_info(const nc_model *model, int index,
                                      nc_tensor_info *info);

/* Facts about a model for `ncore info`. Strings live as long as the model. */
typedef struct nc_model_stats {
    int64_t ir_version;
    int64_t opset;         /* default-domain opset */
    const char *producer;  /* "pytorch 1.13" or "" */
    int64_t num_nodes;     /* main graph and subgraphs */
    int64_t num_params;    /* elements in initializers and Constants */
    int64_t param_bytes;
} nc_model_stats;

NC_API nc_status nc_model_get_stats(const nc_model *model, nc_model_stats *stats);

/* Estimate the floating-point operations of one run, for reporting achieved
 * GFLOP/s. Shapes are inferred again with the n_inputs given input shapes
 * (matched by name; a NULL name means model input number i; dtype and
 * dim_names are ignored); inputs not given keep their declared shapes.
 * Counted: 2 per multiply-accumulate of Conv, ConvTranspose, Gemm, MatMul,
 * MatMulInteger, Einsum and the LSTM/GRU/RNN matrix products; 1 per output
 * element of float elementwise arithmetic (Add, Mul, Relu, Sigmoid, ...) and
 * of the bias of Conv/Gemm. Not counted: data movement, comparisons, casts,
 * pooling, normalization, softmax, reductions, resize. Of an If, the branch
 * taken when the condition is known before the run, else the costlier one.
 * Fails with NC_ERR_SHAPE naming the first counted node whose shape is still
 * unknown (a dynamic dimension not given). */
NC_API nc_status nc_model_estimate_flops(const nc_model *model, int n_inputs,
                                         const nc_tensor_info *inputs, int64_t *flops);

/* Visit each op type used (main graph and subgraphs) with its node count and
 * whether the library can run it. Stops early if fn returns non-zero. */
typedef int (*nc_op_visit_fn)(void *user, const char *domain, const char *op_type,
                              int64_t count, int supported);
NC_API void nc_model_visit_ops(const nc_model *model, nc_op_visit_fn fn, void *user);

/* Visit every registered op: domain ("" = ai.onnx), name and the opset range
 * the library implements. Stops early if fn returns non-zero. */
typedef int (*nc_op_def_fn)(void *user, const char *domain, const char *op_type,
                            int since_version, int last_version);
NC_API void nc_list_ops(nc_op_def_fn fn, void *user);

/* ---- Sessions ------------------------------------------------------------
 * A model placed on a device, ready to run. */
typedef struct nc_session nc_session;

typedef struct nc_session_options {
    const char *device;     /* "cpu" (default); "ref" forces reference kernels;
                               "sim" the chip simulator (the default for a
                               compiled model) */
    int threads;            /* intra-op threads; 0 = library default */
    uint64_t memory_limit;  /* largest total tensor bytes a run may hold live,
                               0 = 8 GiB; exceeding it is NC_ERR_LIMIT */
    const char *auto_cast;  /* device "cpu" only: "bf16" runs convolutions
                               and matrix products by constant weights with
                               bf16 inputs and weights, f32 accumulation and
                               outputs; NULL or "" = off (other devices
                               refuse it with NC_ERR_UNSUPPORTED) */
    /* Device "sim" (a compiled model; see "Compilation and the chip
     * device" below). Zero is the default for each. */
    int sim_no_values;      /* nonzero: timing only, nothing computed; outputs
                               are zero-filled tensors of the right shape and
                               host partitions are not run */
    int sim_trace;          /* nonzero: record every instruction, for
                               nc_session_write_trace */
    const char *sim_chip;   /* simulate this chip config (preset or JSON
                               path, as nc_chip_load) instead of the
                               artifact's target; the programs are checked
                               against it. NULL = the target */
    int sim_replicas;       /* run this many copies of the programs at once
                               on consecutive cores, data parallel (as
                               Neuron's DataParallel); needs sim_no_values;
                               0 = 1. More cores than the chip config has is
                               NC_ERR_LIMIT */
    int pipeline_cores;     /* device "cpu": N >= 1 cuts the optimized model
                               into N pipeline stages, each on one thread
                               pinned to a host core (see "Pipelined
                               sessions" below); 0 = off. threads must then
                               be 0 or 1; N > 64 or < 0 is
                               NC_ERR_INVALID_ARG */
} nc_session_options;

/* Constructor. */
NC_API nc_status nc_session_create(nc_model *model, const nc_session_options *opts,
                                   nc_session **out);
/* Destructor. */
NC_API void nc_session_free(nc_session *sess);
/* Message of the last failed call on this session ("" if none). */
NC_API const char *nc_session_last_error(const nc_session *sess);

/* Run the model once.
 * inputs: n_inputs tensors named by input_names. Every model input without a
 *   default (initializer) must be given; every name must be a model input;
 *   dtype and rank must match and fixed dimensions must agree.
 * outputs: n_outputs new tensors, owned by the caller, for output_names; if
 *   output_names is NULL, the model's first n_outputs outputs in order.
 * The caller's input tensors are read, never written. */
NC_API nc_status nc_session_run(nc_session *sess, int n_inputs,
                                const char *const *input_names,
                                nc_tensor *const *inputs, int n_outputs,
                                const char *const *output_names,
                                nc_tensor **outputs);

/* ---- Chip configurations -------------------------------------------------
 * The Inferentia-class system the compiler targets and the simulator models:
 * a preset ("inf1": 1 chip, the default; "inf1.6xlarge": 4 chips;
 * "inf1.24xlarge": 16 chips) or a JSON file whose fields override a preset
 * (its "base", default inf1). docs/CHIP.md lists every field, which values
 * are published and which are assumed, and why. */
typedef struct nc_chip nc_chip;

/* Constructor: a preset name or a JSON file path; NULL or "" is "inf1".
 * An unknown preset, an unreadable file, an unknown field or a value out of
 * range fails, naming it. */
NC_API nc_status nc_chip_load(const char *name_or_path, nc_chip **out);
/* Destructor. */
NC_API void nc_chip_free(nc_chip *chip);
/* The name of preset i (0, 1, ...), NULL past the last. */
NC_API const char *nc_chip_preset_name(int i);

/* A summary for inventories. Rates are peaks of one core unless named
 * otherwise. Fields are only ever appended. */
typedef struct nc_chip_info {
    const char *name;        /* owned by the chip handle */
    int chips, cores_per_chip;
    int te_rows, te_cols;    /* tensor-engine PE array */
    double te_clock_ghz;
    const char *te_timing;   /* "overlapped" or "scalesim" (static string) */
    double tflops_bf16, tflops_fp16, tops_int8, tflops_fp32; /* 2 ops per MAC */
    double vector_gops, scalar_gops; /* engine ops per cycle x clock */
    int sbuf_partitions;
    uint64_t sbuf_bytes, psum_bytes; /* per core */
    int dma_queues;          /* per core */
    double dma_latency_ns;
    uint64_t dram_bytes;     /* per chip */
    double dram_gibps;       /* per chip, shared by its cores */
    double core_link_gibps;  /* between cores of a chip */
    double chip_link_gibps;  /* NeuronLink, per chip */
} nc_chip_info;

NC_API nc_status nc_chip_get_info(const nc_chip *chip, nc_chip_info *info);
/* Every field as a JSON object (a file nc_chip_load reads back, once the
 * "derived" member of peaks and totals is removed). *json is malloc'ed:
 * free() it. */
NC_API nc_status nc_chip_describe_json(const nc_chip *chip, char **json);

/* ---- Pipelined sessions (device "cpu") -----------------------------------
 * NeuronCore-Pipeline on the host: with nc_session_options.pipeline_cores
 * N >= 1 the optimized model is cut into N contiguous stages balanced by
 * FLOPs. Each stage is planned and run on one thread of its own, pinned to
 * a host core (stage k on the k-th CPU the process may use, round-robin when
 * N exceeds them), so that its weights stay in that core's caches; requests
 * stream through the stages over bounded queues, in order. N larger than the
 * optimized model's node count is clamped to it, with a note in the plan.
 * Outputs equal those of the unpipelined device with threads = 1 within
 * fp32 rounding: the same kernels run in the same order, but a tensor
 * crosses a stage boundary in plain layout, and a convolution reading it may
 * then pick another oneDNN layout and kernel, which sums in another order
 * (ResNet-50: logits within 3e-5 of the unpipelined ones; the BERT-like
 * encoder: bit for bit). One stage is bit for bit.
 * A model that cannot be planned statically (dynamic input dimensions, an If
 * or other subgraph left after optimization, a stage that fails to plan) is
 * not cut: it runs whole, on the plain CPU device, in one stage; the plan
 * says why. nc_session_run works on a pipelined session (one request through
 * all stages) when no request is in flight. For throughput keep several in
 * flight:
 *
 *     nc_session_options so = {.pipeline_cores = 2};
 *     nc_session_create(model, &so, &sess);
 *     for (...) nc_session_submit(sess, 1, names, &x[i], &id); // up to max_in_flight
 *     for (...) nc_session_wait(sess, 1, NULL, &y[i], &id);    // oldest first
 *
 * Submit and wait are for one thread at a time, like every session call. */
typedef struct nc_pipeline_info {
    int stages;          /* stage threads; 0: not a pipelined session */
    int fallback;        /* nonzero: the model was not cut (see plan) */
    int max_in_flight;   /* requests submitted and not yet waited for, at most */
    int in_flight;       /* now */
    const char *plan;    /* per stage: core, nodes, GFLOP, weight bytes; notes.
                            Lives as long as the session */
} nc_pipeline_info;

/* NC_ERR_INVALID_ARG for a session created without pipeline_cores. */
NC_API nc_status nc_session_get_pipeline_info(const nc_session *sess, nc_pipeline_info *info);
/* Queue one request on a pipelined session, with nc_session_run's input
 * rules; the inputs are copied. request_id (may be NULL) receives its
 * number: 0, 1, 2, ... per session. NC_ERR_LIMIT when max_in_flight
 * requests are in flight; NC_ERR_INVALID_ARG on a session that is not
 * pipelined. */
NC_API nc_status nc_session_submit(nc_session *sess, int n_inputs,
                                   const char *const *input_names,
                                   nc_tensor *const *inputs, uint64_t *request_id);
/* Wait for the oldest request in flight and take its outputs (as for
 * nc_session_run); request_id receives its number, also when it failed.
 * NC_ERR_INVALID_ARG when none is in flight. */
NC_API nc_status nc_session_wait(nc_session *sess, int n_outputs,
                                 const char *const *output_names,
                                 nc_tensor **outputs, uint64_t *request_id);

/* ---- INT8 quantization ---------------------------------------------------
 * Post-training quantization into a standard ONNX QDQ model (runs on ONNX
 * Runtime too): QuantizeLinear/DequantizeLinear on the activation inputs of
 * Conv, Gemm and MatMul (and on the residual operand of an Add after a
 * Conv), uint8 activations with a zero point from ranges measured on a
 * calibration set, int8 symmetric weights (one scale per output channel, or
 * per tensor), int32 biases. Device "cpu" runs such a model's
 * DQ->Conv->[Add]->[Relu]->Q chains on int8 kernels. */
typedef struct nc_quantize_options {
    int per_tensor;     /* nonzero: one scale per weight tensor */
    double percentile;  /* 0 (or 100): activation ranges are min/max over
                           the calibration set; e.g. 99.99: the mean over
                           samples of the 0.01th and 99.99th percentiles */
    int threads;        /* for the calibration runs; 0 = default */
} nc_quantize_options;

typedef struct nc_quantize_report {
    int activations;    /* activation tensors given quantization parameters */
    int ops;            /* Conv/Gemm/MatMul nodes with int8 weights */
} nc_quantize_report;

/* Quantize an ONNX model (not a compiled one) and write the QDQ model to
 * out_path. calib: n_samples * (number of model inputs) tensors, sample by
 * sample, each sample's tensors in model input order. opts and report may
 * be NULL. */
NC_API nc_status nc_quantize(const nc_model *model, int n_samples, nc_tensor *const *calib,
                             const nc_quantize_options *opts, const char *out_path,
                             nc_quantize_report *report);

/* ---- Compilation and the chip device -------------------------------------
 * A model is compiled ahead of time for a chip configuration into a `.ncx`
 * artifact (format: src/ncx/ncx.h), which nc_model_load_file loads like an
 * ONNX file (it recognises the "NCX1" magic) and device "sim" runs on the
 * event-driven simulator, values and simulated time both:
 *
 *     nc_compile_options co;
 *     nc_compile_options_init(&co);                  // inf1, matmult->bf16, -O2
 *     nc_compile_report *rep = NULL;
 *     nc_compile(model, &co, "model.ncx", &rep);      // rep: on-chip share
 *     nc_compile_report_free(rep);
 *
 *     nc_model *cm = NULL;
 *     nc_model_load_file("model.ncx", NULL, &cm);     // a compiled model
 *     nc_session_options so = {.device = "sim", .sim_trace = 1};
 *     nc_session_create(cm, &so, &sess);
 *     nc_session_run(sess, ...);                      // outputs as on "cpu"
 *     nc_sim_stats st;
 *     nc_session_get_sim_stats(sess, &st);            // simulated ns, cycles
 *     nc_session_write_trace(sess, "trace.json");     // Chrome trace
 *
 * The compiler partitions the graph: runs of ops the chip can execute become
 * per-core ISA programs, the others fall back to the host CPU as separate
 * partitions (as AWS Neuron does); the report says what share of the ops and
 * FLOPs runs on the chip. Shapes are static in a compiled model. */

/* Options of nc_compile. Start from nc_compile_options_init(): fields added
 * later get their defaults from it. Strings are only read during the call. */
typedef struct nc_compile_options {
    /* Chip configuration: a preset name or a chip JSON path, as for
     * nc_chip_load. NULL or "" = "inf1". */
    const char *target;
    /* Dtype policy for fp32 tensors (tensors already fp16/bf16/int8 keep
     * their type). The tensor engine takes fp16/bf16/int8 operands and
     * accumulates in fp32/int32 at its full rate; fp32 operands run at its
     * fp32 rate.
     *   "matmult" (default, NULL): the operands of tensor-engine ops (Conv,
     *       Gemm, MatMul and fused forms) are cast to auto_cast_type;
     *       accumulation and everything else stay fp32.
     *   "all": as "matmult", and every activation only chip code sees is
     *       stored in auto_cast_type (on chip and in DRAM: half the bytes);
     *       the engines compute in fp32 between loads and stores, PSUM
     *       accumulates in fp32. Model inputs, outputs and tensors crossing
     *       to host partitions stay fp32.
     *   "none": fp32 everywhere; the results match the CPU device within
     *       fp32 rounding.
     * Anything else is NC_ERR_INVALID_ARG naming the value. */
    const char *auto_cast;
    /* "bf16" (default, NULL) or "fp16". */
    const char *auto_cast_type;
    /* 0..3, as -O0..-O3 (init: 2). -O0 compiles the graph as imported, one
     * op at a time, without overlap of DMA and compute; higher levels add
     * graph optimization, fusion and double buffering (docs/CHIP.md). */
    int opt_level;
    /* Write the per-core programs as readable text (the disassembler's
     * form, one instruction per line, with layer names) to this path; "-"
     * is stdout. NULL: no dump. */
    const char *dump_isa;
    /* Model name stored in the artifact (at most 63 bytes); NULL = the
     * ONNX graph's name, else the output file's base name. */
    const char *name;
    /* Input shapes to compile for, as in nc_model_estimate_flops: n_inputs
     * entries matched by name (a NULL name = model input i), dims only.
     * Dimensions still unknown after that are compiled as 1 (batch 1); the
     * report's inputs say which shapes were used. */
    int n_inputs;
    const nc_tensor_info *inputs;
    /* NeuronCore Pipeline planning: 0 = off (init), -1 = auto (the fewest
     * cores whose weights plus working sets fit their SBUF), N >= 1 = N
     * cores. The chip layers are split into contiguous stages balanced by
     * modeled time (a per-layer cost model, docs/ncore.1); the report gets
     * the plan. The artifact has one program per core, each core's weights
     * resident on chip (run it with device "sim"; streams:
     * nc_session_simulate_stream). Every op must run on the chip. More cores than the target has, or a model that does not fit
     * (at most 64 cores), is an error with the numbers (NC_ERR_INVALID_ARG,
     * NC_ERR_LIMIT); so is a model with no chip layer (NC_ERR_UNSUPPORTED). */
    int pipeline_cores;
    /* Scalar inputs frozen to a value, as tracing with example inputs does
     * in AWS Neuron: "NAME=VALUE[,NAME=VALUE...]" (NULL or "": none). Each
     * NAME is a model input of one element (rank 0, or every dim 1 or
     * unknown) of an integer, bool (0/1/true/false) or float type; VALUE is
     * read in that type. The input becomes a constant and is not an input of
     * the artifact: graphs specialised on it fold, and an If whose condition
     * it decides (Silero VAD's sample rate `sr`) is replaced by the branch
     * taken. A run of the compiled model that still passes the input is
     * NC_ERR_NOT_FOUND naming it (it is not silently ignored: the value could
     * differ from the frozen one). An unknown name, a non-scalar input or a
     * bad value is NC_ERR_INVALID_ARG naming it. */
    const char *constants;
} nc_compile_options;

/* Fill *o with the defaults: target "inf1", auto_cast "matmult",
 * auto_cast_type "bf16", opt_level 2, everything else NULL/0. */
NC_API void nc_compile_options_init(nc_compile_options *o);

/* One partition of the compiled graph, in execution order. */
typedef struct nc_partition_info {
    const char *device;  /* "chip" or "host" */
    int64_t ops;         /* nodes of the optimized graph in it */
    int64_t flops;       /* as nc_model_estimate_flops counts them */
    const char *first_op, *last_op; /* node names ("" if unnamed) */
    /* host partitions: why its first op is not on the chip, e.g.
     * "NonMaxSuppression: no chip lowering"; "" for chip partitions */
    const char *reason;
    int64_t instructions; /* chip partitions: over all cores; 0 on host */
} nc_partition_info;

/* What nc_compile did. Allocated by nc_compile; every pointer inside lives
 * until nc_compile_report_free. Fields are only ever appended. */
typedef struct nc_compile_report {
    const char *target;   /* the chip config's name */
    int chips, cores;     /* what the programs need */
    /* Ops: nodes of the optimized graph (after folding and fusion). */
    int64_t ops_total, ops_chip;
    /* FLOPs of one run, counted as nc_model_estimate_flops does. */
    int64_t flops_total, flops_chip;
    /* The dtype policy applied ("none", "matmult", "all"; "bf16", "fp16"),
     * and how many fp32 tensors (weights and activations) it cast: > 0
     * means an fp32 model runs in reduced precision on the chip. */
    const char *auto_cast, *auto_cast_type;
    int64_t tensors_cast;
    int opt_level;
    int n_partitions;
    const nc_partition_info *partitions;
    /* Instructions over all cores, total and by engine. */
    int64_t instructions;
    int64_t instr_tensor, instr_vector, instr_scalar, instr_dma, instr_sync;
    uint64_t weight_bytes;     /* weights in DRAM, after casting */
    uint64_t sbuf_peak_bytes;  /* highest SBUF byte allocated, per partition,
                                  on the busiest core */
    uint64_t ncx_bytes;        /* size of the written file */
    int n_inputs, n_outputs;
    const nc_tensor_info *inputs, *outputs; /* the compiled (static) shapes */
    /* The pipeline plan (options.pipeline_cores != 0), else 0 / "". Stage
     * times are modeled, with activations crossing between cores. */
    int pipeline_stages;
    double pipeline_bottleneck_ns, pipeline_latency_ns;
    /* The plan as printed by `ncore compile`: per core its layers, weight
     * bytes against SBUF capacity and stage time; then the bottleneck,
     * throughput and latency. */
    const char *pipeline_text;
    /* Bytes of a core's resident area (the SBUF beyond the tile slots) the
     * programs use, the most over cores: activations kept on chip, and in a
     * pipeline the core's weights. */
    uint64_t resident_bytes;
    /* Batch tiling: with a batch of B images, the first batch_tiled_layers
     * layers (through batch_tiled_cut) run once per image, keeping one
     * image's activations on chip and reading their weights B times; the
     * rest runs batched. 0 / "" when the compiler kept the whole batch
     * together (batch 1, a pipeline, or no saving in modeled DRAM bytes). */
    int batch_tiled_layers;
    const char *batch_tiled_cut;
} nc_compile_report;

/* Compile model for a chip and write the artifact to out_path (replaced if
 * it exists; nothing is left behind on failure). opts NULL = the defaults.
 * report, if not NULL, receives a new report (NULL on failure). An op with
 * no chip lowering is not an error: it runs on the host. Errors: a bad
 * option (NC_ERR_INVALID_ARG), an unreadable target (as nc_chip_load), a
 * model that does not fit the chip's DRAM (NC_ERR_LIMIT), an unwritable
 * path (NC_ERR_IO); each message names the culprit. */
NC_API nc_status nc_compile(const nc_model *model, const nc_compile_options *opts,
                            const char *out_path, nc_compile_report **report);
/* Destructor. */
NC_API void nc_compile_report_free(nc_compile_report *report);

/* A compiled model (loaded from a .ncx; every field, offset and the
 * SHA-256 are checked, a bad file is NC_ERR_PARSE naming the field) answers
 * nc_model_num_inputs/outputs and nc_model_input/output_info from the
 * artifact's signature (static shapes); nc_model_get_stats gives producer
 * "ncore compile", the weights as num_params/param_bytes, num_nodes of the
 * host partitions; nc_model_estimate_flops is NC_ERR_UNSUPPORTED and
 * nc_model_visit_ops visits the host partitions' ops. */

/* The target a compiled model was built for ("inf1", or the config's
 * name); NULL for an ONNX model. The string lives as long as the model. */
NC_API const char *nc_model_target(const nc_model *model);

/* Session options for device "sim" are the last fields of
 * nc_session_options (above): sim_no_values, sim_trace, sim_chip,
 * sim_replicas. Device "sim" needs a compiled model; it is the default
 * device of one (device NULL). A compiled model on another device, or an
 * ONNX model on "sim", is NC_ERR_UNSUPPORTED naming both. */

/* Engines, for nc_sim_stats.busy_pct. */
enum { NC_SIM_TENSOR = 0, NC_SIM_VECTOR = 1, NC_SIM_SCALAR = 2, NC_SIM_DMA = 3,
       NC_SIM_ENGINES = 4 };

/* Simulated statistics of a session's last run. Fields are only appended. */
typedef struct nc_sim_stats {
    double sim_ns;          /* simulated time of the run's chip partitions
                               (several add up; the trace and summary put
                               them one after another) */
    uint64_t cycles;        /* sim_ns at the tensor-engine clock */
    uint64_t instructions;  /* executed, all cores */
    int cores;              /* cores that ran a program */
    /* Busy time of each engine as a percentage of sim_ns, averaged over the
     * cores that ran; NC_SIM_DMA averages the core's DMA queues. */
    double busy_pct[NC_SIM_ENGINES];
    double mac_util;        /* 0..1: MACs done / (PEs x cycles), over those cores */
    uint64_t macs;          /* multiply-adds on the tensor engines */
    uint64_t sbuf_high_bytes, psum_high_bytes; /* per partition, max over cores */
    uint64_t dram_read_bytes, dram_written_bytes; /* all chips */
    int host_partitions;    /* host partitions run (not simulated) */
    double host_ms;         /* their wall-clock time on this machine */
    int values;             /* 0 if the run was timing-only (sim_no_values) */
} nc_sim_stats;

/* Statistics of the last nc_session_run. NC_ERR_INVALID_ARG if the session
 * is not on device "sim" or has not run. */
NC_API nc_status nc_session_get_sim_stats(const nc_session *sess, nc_sim_stats *stats);
/* Chrome Trace Event JSON of the last run (chrome://tracing and
 * ui.perfetto.dev open it): one process per core, one thread per engine and
 * DMA queue, one "X" event per instruction with its text and layer in args.
 * Needs sim_trace (else NC_ERR_INVALID_ARG) and a run. */
NC_API nc_status nc_session_write_trace(const nc_session *sess, const char *path);
/* JSON summary of the last run: simulated time and cycles, per core and
 * engine busy %, MAC utilization, SBUF/PSUM high-water, DRAM bytes, the
 * per-layer breakdown (format: docs/SIM.md). Needs a run on device "sim". */
NC_API nc_status nc_session_write_summary(const nc_session *sess, const char *path);

/* ---- Request streams on the simulator --------------------------------------
 * A stream sends `requests` inferences through a compiled model and measures
 * what a serving system sees: throughput, latency percentiles, DRAM and link
 * traffic per inference, per-core utilization and pipeline bubbles. Three
 * execution modes (docs/SIM.md, "Streams and execution modes"):
 *   "single"         the artifact's one-core program on core 0, requests one
 *                    after another;
 *   "data-parallel"  the same program on cores 0..cores-1, request r on core
 *                    r mod cores (the copies share DRAM addresses, which is
 *                    why streams are timing-only);
 *   "pipeline"       an artifact compiled with --pipeline-cores: program k on
 *                    core k, every request through every stage, weights
 *                    resident on chip.
 * Every core runs its program once per request it serves; a core starts its
 * next request when all its engines finished the previous one and (on the
 * core that reads the inputs) the request has arrived. A stream is timing
 * only whatever sim_no_values says (requests carry no data), uses its own
 * simulator and leaves the session's last run (nc_session_get_sim_stats,
 * trace, summary) alone. An artifact with host partitions cannot stream
 * (NC_ERR_UNSUPPORTED naming them). */
typedef struct nc_sim_stream_options {
    int requests;           /* inferences to send, >= 1 */
    const char *arrival;    /* "back-to-back" (NULL or "": all at time 0, the
                               saturation throughput) or "poisson" */
    double rate_per_s;      /* "poisson": mean arrivals per simulated second */
    uint64_t seed;          /* "poisson": the same seed gives the same arrivals;
                               the first request arrives at time 0 */
    const char *mode;       /* "single", "data-parallel" or "pipeline"; NULL or
                               "" = "pipeline" for a pipeline artifact, else
                               "single" */
    int cores;              /* "data-parallel": copies, 0 = every core of the
                               chip config; other modes: 0 or their own count */
    const char *trace_path; /* Chrome trace of the first trace_requests
                               requests of every core; NULL = none */
    int trace_requests;     /* 0 = 4 */
} nc_sim_stream_options;

/* Zeroes o and sets 100 back-to-back requests in the artifact's own mode. */
NC_API void nc_sim_stream_options_init(nc_sim_stream_options *o);

#define NC_SIM_STREAM_MAX_CORES 64

/* One core of a stream; its window is the stream's. */
typedef struct nc_sim_stream_core {
    int core;               /* global core index */
    int requests;           /* requests it served (iterations of its program) */
    double busy_pct[NC_SIM_ENGINES]; /* engine busy time / window; NC_SIM_DMA:
                               mean over the core's DMA queues */
    double mac_util;        /* 0..1: MACs done / (PEs x window cycles) */
    double bubble_pct;      /* % of the window in which none of the core's
                               engines executed an instruction (waiting for a
                               semaphore, a request or its own barrier) */
    uint64_t dram_read_bytes, dram_written_bytes; /* whole stream, by its DMAs */
    uint64_t link_bytes;    /* sent to other cores (on-chip link, NeuronLink) */
    uint64_t onchip_bytes;  /* SBUF <-> its resident area */
} nc_sim_stream_core;

/* What a stream measured. Fields are only appended. */
typedef struct nc_sim_stream_stats {
    const char *mode;       /* "single", "data-parallel", "pipeline" (static) */
    const char *arrival;    /* "back-to-back", "poisson" (static) */
    int requests;
    int cores;              /* cores that ran: core[0 .. cores-1] */
    double window_ns;       /* first arrival to last completion */
    double throughput_per_s; /* requests / window */
    /* latency = completion - arrival, over the requests; percentiles are
     * nearest-rank */
    double latency_min_ns, latency_mean_ns, latency_p50_ns, latency_p90_ns,
           latency_p99_ns, latency_max_ns;
    /* per inference: the stream's totals over all cores / requests */
    double dram_read_bytes, dram_written_bytes, link_bytes, onchip_bytes;
    double mac_util;        /* mean over the cores that ran */
    double bubble_pct;      /* mean over the cores that ran */
    uint64_t instructions;  /* executed, all cores, all requests */
    double wall_s;          /* host time the simulation took */
    nc_sim_stream_core core[NC_SIM_STREAM_MAX_CORES];
} nc_sim_stream_stats;

/* Run a stream (see above) on a session on device "sim". Errors: not a sim
 * session, a bad option (NC_ERR_INVALID_ARG naming it), more cores than the
 * chip config or NC_SIM_STREAM_MAX_CORES (NC_ERR_LIMIT), a mode the
 * artifact cannot run or host partitions (NC_ERR_UNSUPPORTED), a deadlock
 * (NC_ERR_INVALID_MODEL, the blocked instructions named). */
NC_API nc_status nc_session_simulate_stream(nc_session *sess, const nc_sim_stream_options *opts,
                                            nc_sim_stream_stats *stats);

#ifdef __cplusplus
}
#endif
#endif /* NCORE_H */
