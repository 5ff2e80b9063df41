/*
 * ncore.h — the public API of libncore, and its reference documentation.
 *
 * ncore loads ONNX models and runs them on a device. The lifecycle is:
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

/* Constructor: load an ONNX file. External data files are resolved next to
 * it and may not escape its directory. */
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
    const char *device;     /* "cpu" (default); "ref" forces reference kernels */
    int threads;            /* intra-op threads; 0 = library default */
    uint64_t memory_limit;  /* largest total tensor bytes a run may hold live,
                               0 = 8 GiB; exceeding it is NC_ERR_LIMIT */
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
/* ---- end of chip configurations ----------------------------------------- */

#ifdef __cplusplus
}
#endif
#endif /* NCORE_H */
