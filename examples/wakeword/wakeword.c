/* wakeword — detect a wake word ("alexa") in a WAV file with the openWakeWord
 * model chain, run by libncore through its public API only.
 *
 *   wakeword [--models DIR] [--head NAME|FILE] [--threshold T] [--quiet] WAV...
 *
 * The chain, as openWakeWord streams it (openwakeword/utils.py AudioFeatures
 * and model.py Model.predict):
 *   16 kHz mono audio as int16-valued floats, fed in chunks of 1280 samples
 *   (80 ms), with 1 s of silence padded before and after the clip;
 *   per chunk: melspectrogram.onnx on the chunk plus the 480 samples before it
 *   -> 8 new frames of 32 mel bins, transformed x/10 + 2, appended to a mel
 *   buffer that starts as 76 rows of ones;
 *   embedding_model.onnx on the last 76 mel frames [1,76,32,1] -> one 96-dim
 *   embedding, appended to a feature buffer that starts with the embeddings
 *   of 4 s of low-level noise;
 *   the head (alexa_v0.1.onnx) on the last 16 embeddings [1,16,96] -> a score
 *   in [0,1]; the first 5 scores are forced to 0 while the buffers fill. */
#include <errno.h>
#include <math.h>
#include <sndfile.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ncore.h"

#define SAMPLE_RATE 16000
#define CHUNK 1280          /* 80 ms */
#define MEL_CONTEXT 480     /* 3 extra STFT hops of 160 samples before a chunk */
#define MEL_BINS 32
#define MEL_WINDOW 76       /* mel frames per embedding */
#define MEL_STRIDE 8        /* mel frames per chunk */
#define EMB_DIM 96
#define HEAD_FRAMES 16      /* embeddings per head input */
#define WARMUP_SCORES 5
#define PAD_SECONDS 1
#define NOISE_SECONDS 4
#define BAR_WIDTH 40

static const char usage_text[] =
    "usage: wakeword [--models DIR] [--head NAME|FILE] [--threshold T] [--quiet] WAV...\n"
    "\n"
    "Score each 80 ms of a 16 kHz WAV file for a wake word with the openWakeWord\n"
    "chain (melspectrogram -> embedding -> head) and say whether it was heard.\n"
    "\n"
    "  --models DIR     where melspectrogram.onnx, embedding_model.onnx and the head\n"
    "                   are (default: ${NCORE_CACHE:-$HOME/.cache/ncore}/models)\n"
    "  --head NAME      the head: NAME_v0.1.onnx in DIR, or a path to an .onnx file\n"
    "                   (default: alexa)\n"
    "  --threshold T    detection threshold on the score (default 0.5)\n"
    "  --quiet          print only the verdict line\n";

typedef struct {
    nc_model *model;
    nc_session *sess;
    const char *in_name;
    const char *path;
} stage;

typedef struct {
    stage mel, emb, head;
    const char *label; /* "alexa" */
    float threshold;
    bool quiet;
} chain;

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("wakeword: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

static int stage_open(stage *s, const char *path) {
    s->path = path;
    if (nc_model_load_file(path, NULL, &s->model) != NC_OK) return fail("%s", nc_last_error());
    nc_tensor_info ti;
    if (nc_model_num_inputs(s->model) < 1 || nc_model_input_info(s->model, 0, &ti) != NC_OK)
        return fail("model '%s' has no input", path);
    s->in_name = ti.name;
    if (nc_session_create(s->model, NULL, &s->sess) != NC_OK)
        return fail("%s: %s", path, nc_last_error());
    return 0;
}

static void stage_close(stage *s) {
    nc_session_free(s->sess);
    nc_model_free(s->model);
}

/* Run a one-input, one-output model on data of the given shape. */
static int stage_run(stage *s, int ndim, const int64_t *dims, float *data, nc_tensor **out) {
    nc_tensor *in = NULL;
    if (nc_tensor_wrap(NC_DTYPE_F32, ndim, dims, data, &in) != NC_OK)
        return fail("%s", nc_last_error());
    nc_status st = nc_session_run(s->sess, 1, &s->in_name, &in, 1, NULL, out);
    nc_tensor_free(in);
    if (st != NC_OK) return fail("%s: %s", s->path, nc_session_last_error(s->sess));
    if (nc_tensor_dtype(*out) != NC_DTYPE_F32) {
        nc_tensor_free(*out);
        *out = NULL;
        return fail("%s: output is not float32", s->path);
    }
    return 0;
}

/* Mel frames of n samples, transformed x/10 + 2, into a new array. */
static int melspec(chain *c, const float *samples, int64_t n, float **frames, int64_t *n_frames) {
    int64_t dims[2] = {1, n};
    nc_tensor *out = NULL;
    /* The model reads, never writes, its input: casting away const is safe. */
    if (stage_run(&c->mel, 2, dims, (float *)samples, &out)) return 1;
    int64_t m = nc_tensor_numel(out);
    if (m % MEL_BINS) {
        nc_tensor_free(out);
        return fail("%s: output has %lld values, not a multiple of %d mel bins", c->mel.path,
                    (long long)m, MEL_BINS);
    }
    float *f = malloc((size_t)(m ? m : 1) * sizeof *f);
    if (!f) {
        nc_tensor_free(out);
        return fail("out of memory");
    }
    const float *src = nc_tensor_data(out);
    for (int64_t i = 0; i < m; i++) f[i] = src[i] / 10.0f + 2.0f;
    nc_tensor_free(out);
    *frames = f;
    *n_frames = m / MEL_BINS;
    return 0;
}

/* Embeddings of `batch` windows of MEL_WINDOW frames each (contiguous). */
static int embed(chain *c, float *windows, int64_t batch, float *emb_out) {
    int64_t dims[4] = {batch, MEL_WINDOW, MEL_BINS, 1};
    nc_tensor *out = NULL;
    if (stage_run(&c->emb, 4, dims, windows, &out)) return 1;
    if (nc_tensor_numel(out) != batch * EMB_DIM) {
        nc_tensor_free(out);
        return fail("%s: expected %lld embedding values, got %lld", c->emb.path,
                    (long long)(batch * EMB_DIM), (long long)nc_tensor_numel(out));
    }
    memcpy(emb_out, nc_tensor_data(out), (size_t)(batch * EMB_DIM) * sizeof(float));
    nc_tensor_free(out);
    return 0;
}

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* openWakeWord starts its feature buffer with the embeddings of 4 s of
 * random int16 noise in [-1000, 1000); we do the same with a fixed seed so
 * runs are repeatable. Fills the last HEAD_FRAMES embeddings into feats. */
static int init_features(chain *c, float *feats) {
    int64_t n = (int64_t)NOISE_SECONDS * SAMPLE_RATE;
    float *noise = malloc((size_t)n * sizeof *noise);
    if (!noise) return fail("out of memory");
    uint64_t rng = 12345;
    for (int64_t i = 0; i < n; i++) noise[i] = (float)((int64_t)(splitmix64(&rng) % 2000) - 1000);
    float *mel = NULL;
    int64_t nf = 0;
    int rc = melspec(c, noise, n, &mel, &nf);
    free(noise);
    if (rc) return rc;
    int64_t nwin = nf >= MEL_WINDOW ? (nf - MEL_WINDOW) / MEL_STRIDE + 1 : 0;
    if (nwin < HEAD_FRAMES) {
        free(mel);
        return fail("%s: %lld mel frames from %d s of audio is too few", c->mel.path,
                    (long long)nf, NOISE_SECONDS);
    }
    float *win = malloc((size_t)(nwin * MEL_WINDOW * MEL_BINS) * sizeof *win);
    float *emb = malloc((size_t)(nwin * EMB_DIM) * sizeof *emb);
    if (!win || !emb) {
        free(mel);
        free(win);
        free(emb);
        return fail("out of memory");
    }
    for (int64_t w = 0; w < nwin; w++)
        memcpy(win + w * MEL_WINDOW * MEL_BINS, mel + w * MEL_STRIDE * MEL_BINS,
               (size_t)(MEL_WINDOW * MEL_BINS) * sizeof *win);
    rc = embed(c, win, nwin, emb);
    if (!rc)
        memcpy(feats, emb + (nwin - HEAD_FRAMES) * EMB_DIM,
               (size_t)(HEAD_FRAMES * EMB_DIM) * sizeof *feats);
    free(mel);
    free(win);
    free(emb);
    return rc;
}

/* The clip as int16-valued floats, mixed to mono, with PAD_SECONDS of
 * silence on both sides. */
static int read_wav(const char *path, float **out, int64_t *n_out, int64_t *n_clip) {
    SF_INFO info = {0};
    SNDFILE *sf = sf_open(path, SFM_READ, &info);
    if (!sf) return fail("cannot read '%s': %s", path, sf_strerror(NULL));
    if (info.samplerate != SAMPLE_RATE || info.channels < 1) {
        sf_close(sf);
        return fail("'%s' is %d Hz with %d channel(s); the models need %d Hz "
                    "(convert with: sox IN.wav -r 16000 -c 1 -b 16 OUT.wav)",
                    path, info.samplerate, info.channels, SAMPLE_RATE);
    }
    if (info.frames <= 0 || info.frames > (sf_count_t)SAMPLE_RATE * 3600) {
        sf_close(sf);
        return fail("'%s' has %lld frames; expected 1 sample to 1 hour", path,
                    (long long)info.frames);
    }
    int64_t frames = info.frames, pad = (int64_t)PAD_SECONDS * SAMPLE_RATE;
    short *pcm = malloc((size_t)(frames * info.channels) * sizeof *pcm);
    float *x = calloc((size_t)(frames + 2 * pad), sizeof *x);
    if (!pcm || !x) {
        free(pcm);
        free(x);
        sf_close(sf);
        return fail("out of memory for '%s'", path);
    }
    sf_count_t got = sf_readf_short(sf, pcm, frames);
    sf_close(sf);
    for (int64_t i = 0; i < got; i++) {
        long acc = 0;
        for (int ch = 0; ch < info.channels; ch++) acc += pcm[i * info.channels + ch];
        x[pad + i] = (float)(acc / info.channels);
    }
    free(pcm);
    *out = x;
    *n_out = frames + 2 * pad;
    *n_clip = got;
    return 0;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int detect(chain *c, const char *wav) {
    float *audio = NULL;
    int64_t n = 0, n_clip = 0;
    if (read_wav(wav, &audio, &n, &n_clip)) return 1;
    double t0 = now_s();

    /* Sliding buffers: the last MEL_WINDOW mel frames (plus room for one
     * chunk's new ones) and the last HEAD_FRAMES embeddings. */
    float mel[(MEL_WINDOW + 64) * MEL_BINS];
    float feats[HEAD_FRAMES * EMB_DIM];
    int64_t n_mel = MEL_WINDOW;
    for (int i = 0; i < MEL_WINDOW * MEL_BINS; i++) mel[i] = 1.0f;
    int rc = init_features(c, feats);

    int64_t n_chunks = n > CHUNK ? (n - 1) / CHUNK : 0; /* as predict_clip's range() */
    float *scores = calloc((size_t)(n_chunks ? n_chunks : 1), sizeof *scores);
    if (!scores) rc = fail("out of memory");
    if (!rc && !c->quiet)
        printf("%s: %.2f s of audio, head \"%s\" (%s)\n", wav, (double)n_clip / SAMPLE_RATE,
               c->label, c->head.path);

    for (int64_t k = 0; !rc && k < n_chunks; k++) {
        int64_t end = (k + 1) * CHUNK;
        int64_t start = end - CHUNK - MEL_CONTEXT < 0 ? 0 : end - CHUNK - MEL_CONTEXT;
        float *fr = NULL;
        int64_t nf = 0;
        if ((rc = melspec(c, audio + start, end - start, &fr, &nf))) break;
        if (nf > 64) {
            free(fr);
            rc = fail("%s: %lld mel frames for one chunk; expected %d", c->mel.path,
                      (long long)nf, MEL_STRIDE);
            break;
        }
        /* Keep the last MEL_WINDOW frames, then append the new ones. */
        int64_t keep = n_mel + nf > MEL_WINDOW + 64 ? MEL_WINDOW : n_mel;
        memmove(mel, mel + (n_mel - keep) * MEL_BINS, (size_t)(keep * MEL_BINS) * sizeof *mel);
        memcpy(mel + keep * MEL_BINS, fr, (size_t)(nf * MEL_BINS) * sizeof *mel);
        n_mel = keep + nf;
        free(fr);

        float emb[EMB_DIM];
        if ((rc = embed(c, mel + (n_mel - MEL_WINDOW) * MEL_BINS, 1, emb))) break;
        memmove(feats, feats + EMB_DIM, (size_t)((HEAD_FRAMES - 1) * EMB_DIM) * sizeof *feats);
        memcpy(feats + (HEAD_FRAMES - 1) * EMB_DIM, emb, sizeof emb);

        int64_t hd[3] = {1, HEAD_FRAMES, EMB_DIM};
        nc_tensor *out = NULL;
        if ((rc = stage_run(&c->head, 3, hd, feats, &out))) break;
        float s = nc_tensor_numel(out) > 0 ? ((const float *)nc_tensor_data(out))[0] : 0.0f;
        nc_tensor_free(out);
        scores[k] = k < WARMUP_SCORES ? 0.0f : s;
    }
    double elapsed = now_s() - t0;

    if (!rc) {
        /* Time of a score: the end of its chunk, in the clip's own time. */
        int64_t first = -1, best = -1;
        double clip_s = (double)n_clip / SAMPLE_RATE;
        for (int64_t k = 0; k < n_chunks; k++) {
            double t = (double)((k + 1) * CHUNK) / SAMPLE_RATE - PAD_SECONDS;
            if (t <= 0) continue; /* still in the leading silence */
            if (best < 0 || scores[k] > scores[best]) best = k;
            if (first < 0 && scores[k] >= c->threshold) first = k;
            /* Show the clip and half a second after it (a detection lags the
             * word by a few chunks); the rest of the padding is silence. */
            if (c->quiet || t > clip_s + 0.5) continue;
            int w = (int)lrintf(fminf(fmaxf(scores[k], 0.0f), 1.0f) * BAR_WIDTH);
            char bar[BAR_WIDTH + 1];
            memset(bar, '#', (size_t)w);
            memset(bar + w, ' ', (size_t)(BAR_WIDTH - w));
            bar[BAR_WIDTH] = '\0';
            printf("  %6.2f s  %.3f |%s|%s\n", t, scores[k], bar,
                   scores[k] >= c->threshold ? " <" : "");
        }
        if (first >= 0) {
            int64_t peak = first;
            for (int64_t k = first; k < n_chunks && scores[k] >= c->threshold; k++)
                if (scores[k] > scores[peak]) peak = k;
            printf("%s: wake word \"%s\" detected at %.2f s (score %.2f)\n", wav, c->label,
                   (double)((first + 1) * CHUNK) / SAMPLE_RATE - PAD_SECONDS, scores[peak]);
        } else {
            printf("%s: no wake word (max score %.3f at %.2f s)\n", wav,
                   best >= 0 ? scores[best] : 0.0,
                   best >= 0 ? (double)((best + 1) * CHUNK) / SAMPLE_RATE - PAD_SECONDS : 0.0);
        }
        if (!c->quiet)
            printf("  %lld chunks in %.2f s (%.1fx real time)\n", (long long)n_chunks, elapsed,
                   elapsed > 0 ? (double)n / SAMPLE_RATE / elapsed : 0.0);
    }
    free(scores);
    free(audio);
    return rc;
}

int main(int argc, char **argv) {
    const char *dir = NULL, *head = "alexa";
    double threshold = 0.5;
    bool quiet = false;
    int first_wav = argc;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage_text, stdout);
            return 0;
        } else if (strcmp(a, "--quiet") == 0) {
            quiet = true;
        } else if ((strcmp(a, "--models") == 0 || strcmp(a, "--head") == 0 ||
                    strcmp(a, "--threshold") == 0) && i + 1 < argc) {
            const char *v = argv[++i];
            if (a[2] == 'm') {
                dir = v;
            } else if (a[2] == 'h') {
                head = v;
            } else {
                char *end;
                threshold = strtod(v, &end);
                if (*end || !(threshold >= 0 && threshold <= 1)) {
                    fprintf(stderr, "wakeword: --threshold needs a number in [0,1]\n");
                    return 2;
                }
            }
        } else if (a[0] == '-') {
            fprintf(stderr, "wakeword: unknown or incomplete option '%s'\nTry 'wakeword --help'.\n",
                    a);
            return 2;
        } else {
            first_wav = i;
            break;
        }
    }
    if (first_wav >= argc) {
        fputs(usage_text, stderr);
        return 2;
    }

    char dirbuf[4096];
    if (!dir) {
        const char *cache = getenv("NCORE_CACHE"), *home = getenv("HOME");
        if (cache && *cache)
            snprintf(dirbuf, sizeof dirbuf, "%s/models", cache);
        else
            snprintf(dirbuf, sizeof dirbuf, "%s/.cache/ncore/models", home ? home : ".");
        dir = dirbuf;
    }
    char mel_path[4200], emb_path[4200], head_path[4200], label[256];
    snprintf(mel_path, sizeof mel_path, "%s/melspectrogram.onnx", dir);
    snprintf(emb_path, sizeof emb_path, "%s/embedding_model.onnx", dir);
    size_t hl = strlen(head);
    if (strchr(head, '/') || (hl > 5 && strcmp(head + hl - 5, ".onnx") == 0))
        snprintf(head_path, sizeof head_path, "%s", head);
    else
        snprintf(head_path, sizeof head_path, "%s/%s_v0.1.onnx", dir, head);
    /* Label: the head's file name without directory, ".onnx" and "_vN.N". */
    const char *base = strrchr(head_path, '/');
    snprintf(label, sizeof label, "%.200s", base ? base + 1 : head_path);
    char *dot = strstr(label, ".onnx");
    if (dot) *dot = '\0';
    char *ver = strstr(label, "_v");
    if (ver && ver[2] >= '0' && ver[2] <= '9') *ver = '\0';

    chain c = {.label = label, .threshold = (float)threshold, .quiet = quiet};
    int rc = stage_open(&c.mel, mel_path);
    if (!rc) rc = stage_open(&c.emb, emb_path);
    if (!rc) rc = stage_open(&c.head, head_path);
    if (rc)
        fprintf(stderr, "wakeword: fetch the models with scripts/fetch_models.sh "
                        "(or pass --models DIR)\n");
    for (int i = first_wav; !rc && i < argc; i++) rc = detect(&c, argv[i]);
    stage_close(&c.head);
    stage_close(&c.emb);
    stage_close(&c.mel);
    return rc;
}
