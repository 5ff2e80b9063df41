/* ortref: ONNX Runtime through its C API, loaded with dlopen(). */
#include "ortref.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnxruntime_c_api.h"

struct ortref_env {
    void *lib;
    const OrtApi *api;
    OrtEnv *env;
    OrtMemoryInfo *cpu;
    const char *version;
};

struct ortref_session {
    ortref_env *env;
    OrtSession *sess;
    int n_in, n_out;
    char **in_names, **out_names; /* our own copies (malloc) */
};

static int fail(char *err, size_t cap, const char *fmt, ...) {
    if (err && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, cap, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* Turn an OrtStatus into our error convention (and release it). */
static int ort_fail(const OrtApi *api, OrtStatus *st, char *err, size_t cap, const char *what) {
    fail(err, cap, "onnxruntime: %s: %s", what, api->GetErrorMessage(st));
    api->ReleaseStatus(st);
    return -1;
}

#define ORT_TRY(api, call, what)                                       \
    do {                                                               \
        OrtStatus *ortref_st_ = (call);                                \
        if (ortref_st_) return ort_fail((api), ortref_st_, err, cap, (what)); \
    } while (0)

/* ONNX Runtime keeps a few hundred bytes of process-wide state it never
 * frees; tell LeakSanitizer (sanitizer builds) not to count them. */
__attribute__((visibility("default"), used)) const char *__lsan_default_suppressions(void);
__attribute__((visibility("default"), used)) const char *__lsan_default_suppressions(void) {
    return "leak:libonnxruntime.so\n";
}

const char *ortref_cache_dir(char *buf, size_t cap) {
    const char *c = getenv("NCORE_CACHE");
    int n;
    if (c && *c) {
        n = snprintf(buf, cap, "%s", c);
    } else {
        const char *home = getenv("HOME");
        n = snprintf(buf, cap, "%s/.cache/ncore", home && *home ? home : ".");
    }
    return n < 0 || (size_t)n >= cap ? NULL : buf;
}

int ortref_env_open(const char *lib_path, ortref_env **out, char *err, size_t cap) {
    char def[4096];
    *out = NULL;
    if (!lib_path) {
        char dir[3800];
        if (!ortref_cache_dir(dir, sizeof dir)) return fail(err, cap, "cache directory path too long");
        snprintf(def, sizeof def, "%s/ort/libonnxruntime.so.1", dir);
        lib_path = def;
    }
    void *lib = dlopen(lib_path, RTLD_NOW | RTLD_LOCAL);
    if (!lib)
        return fail(err, cap, "cannot load ONNX Runtime from %s: %s (run scripts/fetch_models.sh)",
                    lib_path, dlerror());
    const OrtApiBase *(*get_base)(void);
    *(void **)&get_base = dlsym(lib, "OrtGetApiBase");
    if (!get_base) {
        dlclose(lib);
        return fail(err, cap, "%s does not export OrtGetApiBase", lib_path);
    }
    const OrtApiBase *base = get_base();
    const OrtApi *api = base ? base->GetApi(ORT_API_VERSION) : NULL;
    if (!api) {
        dlclose(lib);
        return fail(err, cap, "%s does not provide ORT API version %d", lib_path, ORT_API_VERSION);
    }
    ortref_env *e = calloc(1, sizeof *e);
    if (!e) {
        dlclose(lib);
        return fail(err, cap, "out of memory");
    }
    e->lib = lib;
    e->api = api;
    e->version = base->GetVersionString();
    OrtStatus *st = api->CreateEnv(ORT_LOGGING_LEVEL_ERROR, "ortref", &e->env);
    if (!st) st = api->CreateCpuMemoryInfo(OrtArenaAllocator, OrtMemTypeDefault, &e->cpu);
    if (st) {
        ort_fail(api, st, err, cap, "creating the environment");
        ortref_env_close(e);
        return -1;
    }
    *out = e;
    return 0;
}

void ortref_env_close(ortref_env *e) {
    if (!e) return;
    if (e->cpu) e->api->ReleaseMemoryInfo(e->cpu);
    if (e->env) e->api->ReleaseEnv(e->env);
    /* The library stays mapped: ORT keeps process-wide state (thread pools,
     * logging) whose teardown after dlclose() is not safe. */
    free(e);
}

const char *ortref_env_version(const ortref_env *e) { return e->version ? e->version : "?"; }

static void free_names(char **names, int n) {
    if (!names) return;
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

/* Copy the session's input or output names into malloc'ed strings. */
static int get_names(ortref_session *s, int outputs, char *err, size_t cap) {
    const OrtApi *api = s->env->api;
    OrtAllocator *alloc = NULL;
    size_t n = 0;
    ORT_TRY(api, api->GetAllocatorWithDefaultOptions(&alloc), "default allocator");
    ORT_TRY(api, outputs ? api->SessionGetOutputCount(s->sess, &n) : api->SessionGetInputCount(s->sess, &n),
            "counting inputs/outputs");
    char **names = calloc(n ? n : 1, sizeof *names);
    if (!names) return fail(err, cap, "out of memory");
    if (outputs) {
        s->out_names = names;
        s->n_out = (int)n;
    } else {
        s->in_names = names;
        s->n_in = (int)n;
    }
    for (size_t i = 0; i < n; i++) {
        char *name = NULL;
        ORT_TRY(api, outputs ? api->SessionGetOutputName(s->sess, i, alloc, &name)
                             : api->SessionGetInputName(s->sess, i, alloc, &name),
                "reading a name");
        names[i] = strdup(name);
        OrtStatus *fst = api->AllocatorFree(alloc, name);
        if (fst) api->ReleaseStatus(fst);
        if (!names[i]) return fail(err, cap, "out of memory");
    }
    return 0;
}

int ortref_session_open(ortref_env *env, const char *model_path, int threads, int optimize,
                        ortref_session **out, char *err, size_t cap) {
    const OrtApi *api = env->api;
    OrtSessionOptions *opts = NULL;
    *out = NULL;
    ORT_TRY(api, api->CreateSessionOptions(&opts), "session options");
    OrtStatus *st = api->SetSessionGraphOptimizationLevel(opts, optimize ? ORT_ENABLE_ALL : ORT_DISABLE_ALL);
    if (!st && threads > 0) st = api->SetIntraOpNumThreads(opts, threads);
    if (!st) st = api->SetInterOpNumThreads(opts, 1);
    if (!st) st = api->SetSessionExecutionMode(opts, ORT_SEQUENTIAL);
    if (st) {
        api->ReleaseSessionOptions(opts);
        return ort_fail(api, st, err, cap, "setting session options");
    }
    ortref_session *s = calloc(1, sizeof *s);
    if (!s) {
        api->ReleaseSessionOptions(opts);
        return fail(err, cap, "out of memory");
    }
    s->env = env;
    st = api->CreateSession(env->env, model_path, opts, &s->sess);
    api->ReleaseSessionOptions(opts);
    if (st) {
        char what[1200];
        snprintf(what, sizeof what, "loading %s", model_path);
        ort_fail(api, st, err, cap, what);
        free(s);
        return -1;
    }
    if (get_names(s, 0, err, cap) || get_names(s, 1, err, cap)) {
        ortref_session_close(s);
        return -1;
    }
    *out = s;
    return 0;
}

void ortref_session_close(ortref_session *s) {
    if (!s) return;
    if (s->sess) s->env->api->ReleaseSession(s->sess);
    free_names(s->in_names, s->n_in);
    free_names(s->out_names, s->n_out);
    free(s);
}

int ortref_num_inputs(const ortref_session *s) { return s->n_in; }
int ortref_num_outputs(const ortref_session *s) { return s->n_out; }
const char *ortref_input_name(const ortref_session *s, int i) {
    return i >= 0 && i < s->n_in ? s->in_names[i] : NULL;
}
const char *ortref_output_name(const ortref_session *s, int i) {
    return i >= 0 && i < s->n_out ? s->out_names[i] : NULL;
}

const char *ortref_describe(const ortref_session *s, int is_output, int i, char *buf, size_t cap) {
    const OrtApi *api = s->env->api;
    OrtTypeInfo *ti = NULL;
    const OrtTensorTypeAndShapeInfo *tsi = NULL;
    const char *name = is_output ? ortref_output_name(s, i) : ortref_input_name(s, i);
    size_t len = 0;
    if (!name) {
        snprintf(buf, cap, "(no %s %d)", is_output ? "output" : "input", i);
        return buf;
    }
    len += (size_t)snprintf(buf, cap, "%s '%s': ", is_output ? "output" : "input", name);
    OrtStatus *st = is_output ? api->SessionGetOutputTypeInfo(s->sess, (size_t)i, &ti)
                              : api->SessionGetInputTypeInfo(s->sess, (size_t)i, &ti);
    if (!st) st = api->CastTypeInfoToTensorInfo(ti, &tsi);
    if (st || !tsi) {
        if (st) api->ReleaseStatus(st);
        if (len < cap) snprintf(buf + len, cap - len, "(not a tensor)");
        if (ti) api->ReleaseTypeInfo(ti);
        return buf;
    }
    ONNXTensorElementDataType et = ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
    size_t nd = 0;
    int64_t dims[64];
    const char *sym[64];
    if (!(st = api->GetTensorElementType(tsi, &et)) && !(st = api->GetDimensionsCount(tsi, &nd)) && nd <= 64 &&
        !(st = api->GetDimensions(tsi, dims, nd)) && !(st = api->GetSymbolicDimensions(tsi, sym, nd))) {
        const char *tn = nc_dtype_name((nc_dtype)et);
        if (len < cap) len += (size_t)snprintf(buf + len, cap - len, "%s [", tn ? tn : "?");
        for (size_t d = 0; d < nd && len < cap; d++) {
            const char *sep = d ? "," : "";
            if (dims[d] >= 0)
                len += (size_t)snprintf(buf + len, cap - len, "%s%lld", sep, (long long)dims[d]);
            else
                len += (size_t)snprintf(buf + len, cap - len, "%s'%s'", sep, sym[d] && *sym[d] ? sym[d] : "?");
        }
        if (len < cap) snprintf(buf + len, cap - len, "]");
    }
    if (st) api->ReleaseStatus(st);
    api->ReleaseTypeInfo(ti);
    return buf;
}

/* Copy an ORT output value into a new nc_tensor. */
static int value_to_tensor(const OrtApi *api, OrtValue *v, const char *name, nc_tensor **out,
                           char *err, size_t cap) {
    int is_tensor = 0;
    ORT_TRY(api, api->IsTensor(v, &is_tensor), "inspecting an output");
    if (!is_tensor) return fail(err, cap, "output '%s' is not a tensor (sequence or map)", name);
    OrtTensorTypeAndShapeInfo *info = NULL;
    ORT_TRY(api, api->GetTensorTypeAndShape(v, &info), "output shape");
    ONNXTensorElementDataType et = ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
    size_t nd = 0;
    int64_t dims[NC_MAX_DIMS];
    OrtStatus *st = api->GetTensorElementType(info, &et);
    if (!st) st = api->GetDimensionsCount(info, &nd);
    if (!st && nd > NC_MAX_DIMS) {
        api->ReleaseTensorTypeAndShapeInfo(info);
        return fail(err, cap, "output '%s' has rank %zu > %d", name, nd, NC_MAX_DIMS);
    }
    if (!st) st = api->GetDimensions(info, dims, nd);
    api->ReleaseTensorTypeAndShapeInfo(info);
    if (st) return ort_fail(api, st, err, cap, "output shape");
    if (nc_dtype_size((nc_dtype)et) == 0)
        return fail(err, cap, "output '%s' has ONNX element type %d, which ortref cannot store", name, (int)et);
    nc_tensor *t = NULL;
    if (nc_tensor_create((nc_dtype)et, (int)nd, dims, &t) != NC_OK)
        return fail(err, cap, "output '%s': %s", name, nc_last_error());
    size_t nbytes = nc_tensor_nbytes(t);
    if (nbytes) {
        void *src = NULL;
        st = api->GetTensorMutableData(v, &src);
        if (st) {
            nc_tensor_free(t);
            return ort_fail(api, st, err, cap, "output data");
        }
        memcpy(nc_tensor_data(t), src, nbytes);
    }
    *out = t;
    return 0;
}

int ortref_run(ortref_session *s, int n_inputs, const char *const *names, nc_tensor *const *inputs,
               nc_tensor **outputs, char *err, size_t cap) {
    const OrtApi *api = s->env->api;
    int rc = -1;
    OrtValue **in_vals = calloc((size_t)(n_inputs > 0 ? n_inputs : 1), sizeof *in_vals);
    OrtValue **out_vals = calloc((size_t)(s->n_out > 0 ? s->n_out : 1), sizeof *out_vals);
    for (int i = 0; i < s->n_out; i++) outputs[i] = NULL;
    if (!in_vals || !out_vals) {
        fail(err, cap, "out of memory");
        goto done;
    }
    for (int i = 0; i < n_inputs; i++) {
        nc_tensor *t = inputs[i];
        /* ORT wants a non-NULL buffer even for an empty tensor. */
        static int64_t dummy;
        void *data = nc_tensor_nbytes(t) ? nc_tensor_data(t) : &dummy;
        OrtStatus *st = api->CreateTensorWithDataAsOrtValue(
            s->env->cpu, data, nc_tensor_nbytes(t), nc_tensor_dims(t), (size_t)nc_tensor_ndim(t),
            (ONNXTensorElementDataType)nc_tensor_dtype(t), &in_vals[i]);
        if (st) {
            char what[300];
            snprintf(what, sizeof what, "input '%s'", names[i]);
            ort_fail(api, st, err, cap, what);
            goto done;
        }
    }
    OrtStatus *st = api->Run(s->sess, NULL, names, (const OrtValue *const *)in_vals, (size_t)n_inputs,
                             (const char *const *)s->out_names, (size_t)s->n_out, out_vals);
    if (st) {
        ort_fail(api, st, err, cap, "Run");
        goto done;
    }
    for (int i = 0; i < s->n_out; i++) {
        if (value_to_tensor(api, out_vals[i], s->out_names[i], &outputs[i], err, cap)) {
            for (int j = 0; j < i; j++) {
                nc_tensor_free(outputs[j]);
                outputs[j] = NULL;
            }
            goto done;
        }
    }
    rc = 0;
done:
    if (in_vals)
        for (int i = 0; i < n_inputs; i++)
            if (in_vals[i]) api->ReleaseValue(in_vals[i]);
    if (out_vals)
        for (int i = 0; i < s->n_out; i++)
            if (out_vals[i]) api->ReleaseValue(out_vals[i]);
    free(in_vals);
    free(out_vals);
    return rc;
}

const char *ortref_file_name(const char *name, char *buf, size_t cap) {
    /* File systems allow 255 bytes per name: keep 180 characters and make a
     * longer name unique with a hash of all of it. */
    enum { KEEP = 180 };
    size_t n = 0, len = strlen(name);
    if (!cap) return buf;
    for (const char *p = name; *p && n + 1 < cap && n < KEEP; p++, n++) {
        char c = *p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                 c == '-' || (c == '.' && n > 0);
        buf[n] = ok ? c : '_';
    }
    if (n == 0 && cap > 1) buf[n++] = '_';
    buf[n] = '\0';
    if (len > KEEP) {
        uint64_t h = 0xcbf29ce484222325ULL;
        for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)name[i]) * 0x100000001b3ULL;
        snprintf(buf + n, cap - n, "_%016llx", (unsigned long long)h);
    }
    return buf;
}
