/* ncore serve: the Open Inference Protocol (KServe v2) server over a model
 * repository. The server is the ncore_serve library (src/serve); this file
 * parses the options and waits for SIGINT/SIGTERM. docs/SERVING.md. */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "serve.h"

static const char help_text[] =
    "usage: ncore serve --model-repository DIR [OPTIONS]\n"
    "\n"
    "Serve the models in DIR (Triton layout: DIR/<model>/[config.pbtxt],\n"
    "DIR/<model>/<version>/model.onnx) over HTTP with the Open Inference\n"
    "Protocol (KServe v2), with dynamic batching. SIGINT/SIGTERM stop it\n"
    "gracefully: requests already received are answered, then exit 0.\n"
    "\n"
    "  --model-repository DIR   the model repository (required)\n"
    "  --http-port N            TCP port (default 8000; 0 = any free port)\n"
    "  --host ADDR              IPv4 address to bind (default 127.0.0.1)\n"
    "  --device DEV             device of ONNX models: cpu (default) or ref;\n"
    "                           a compiled model.ncx always runs on sim\n"
    "  --threads N              intra-op threads per model instance (0 = default)\n"
    "  --http-threads N         HTTP threads (default 2)\n"
    "  --max-body-bytes SIZE    largest request body, K/M/G suffix (default 64M)\n"
    "  --max-elements N         most tensor elements per request (default 4194304)\n"
    "  --connection-timeout S   idle/slow connection timeout in seconds (default 30)\n"
    "  --max-queue-size N       queue bound when a config sets none (default 1024)\n"
    "  --default-timeout-us N   queue timeout of requests without one (default 0 = none)\n"
    "\n"
    "Protocol, status codes and limits: docs/SERVING.md.\n";

static bool parse_size(const char *s, uint64_t *out) {
    if (!s || !*s) return false;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || s[0] == '-') return false;
    unsigned shift = 0;
    if (*end == 'K' || *end == 'k') shift = 10;
    else if (*end == 'M' || *end == 'm') shift = 20;
    else if (*end == 'G' || *end == 'g') shift = 30;
    if (shift) end++;
    if (*end || v == 0 || v > (UINT64_MAX >> shift)) return false;
    *out = (uint64_t)v << shift;
    return true;
}

int cmd_serve(int argc, char **argv) {
    srv_options o = {0};
    o.port = 8000;
    for (int i = 1; i < argc;) {
        const char *v = NULL;
        int64_t n;
        int r;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(help_text, stdout);
            return CLI_OK;
        } else if ((r = cli_opt_value(argc, argv, &i, "--model-repository", &v)) != 0) {
            if (r < 0 || !*v) return cli_usage("serve", "--model-repository needs a directory");
            o.repository = v;
        } else if ((r = cli_opt_value(argc, argv, &i, "--http-port", &v)) != 0) {
            if (r < 0 || !cli_parse_int(v, 0, 65535, &n))
                return cli_usage("serve", "--http-port needs a port in 0..65535");
            o.port = (int)n;
        } else if ((r = cli_opt_value(argc, argv, &i, "--host", &v)) != 0) {
            if (r < 0 || !*v) return cli_usage("serve", "--host needs an IPv4 address");
            o.host = v;
        } else if ((r = cli_opt_value(argc, argv, &i, "--device", &v)) != 0) {
            if (r < 0 || !*v) return cli_usage("serve", "--device needs cpu, ref or sim");
            o.device = v;
        } else if ((r = cli_opt_value(argc, argv, &i, "--threads", &v)) != 0) {
            if (r < 0 || !cli_parse_int(v, 0, 1024, &n))
                return cli_usage("serve", "--threads needs an integer in 0..1024");
            o.threads = (int)n;
        } else if ((r = cli_opt_value(argc, argv, &i, "--http-threads", &v)) != 0) {
            if (r < 0 || !cli_parse_int(v, 1, 256, &n))
                return cli_usage("serve", "--http-threads needs an integer in 1..256");
            o.http_threads = (int)n;
        } else if ((r = cli_opt_value(argc, argv, &i, "--max-body-bytes", &v)) != 0) {
            if (r < 0 || !parse_size(v, &o.max_body_bytes))
                return cli_usage("serve", "--max-body-bytes needs a positive size (K/M/G suffix)");
        } else if ((r = cli_opt_value(argc, argv, &i, "--max-elements", &v)) != 0) {
            if (r < 0 || !cli_parse_int(v, 1, INT64_MAX / 4, &n))
                return cli_usage("serve", "--max-elements needs a positive integer");
            o.max_elements = n;
        } else if ((r = cli_opt_value(argc, argv, &i, "--connection-timeout", &v)) != 0) {
            if (r < 0 || !cli_parse_int(v, 1, 86400, &n))
                return cli_usage("serve", "--connection-timeout needs seconds in 1..86400");
            o.connection_timeout = (unsigned)n;
        } else if ((r = cli_opt_value(argc, argv, &i, "--max-queue-size", &v)) != 0) {
            if (r < 0 || !cli_parse_int(v, 1, INT32_MAX, &n))
                return cli_usage("serve", "--max-queue-size needs a positive integer");
            o.max_queue_size = n;
        } else if ((r = cli_opt_value(argc, argv, &i, "--default-timeout-us", &v)) != 0) {
            if (r < 0 || !cli_parse_int(v, 0, INT64_MAX / 1000, &n))
                return cli_usage("serve", "--default-timeout-us needs a non-negative integer");
            o.default_timeout_us = n;
        } else {
            return cli_usage("serve", "unknown argument '%s'", argv[i]);
        }
    }
    if (!o.repository) return cli_usage("serve", "--model-repository DIR is required");

    /* Only this thread takes the stop signals: block them before any server
     * thread starts (threads inherit the mask), then wait for one. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN); /* a client that hangs up must not kill us */

    srv_server *s = NULL;
    if (srv_server_start(&o, &s) != NC_OK) return CLI_FAIL;
    printf("ncore serve: listening on http://%s:%d\n", o.host ? o.host : "127.0.0.1",
           srv_server_port(s));
    fflush(stdout);
    int sig = 0;
    sigwait(&set, &sig);
    fprintf(stderr, "ncore serve: %s: finishing requests in flight\n",
            sig == SIGINT ? "SIGINT" : "SIGTERM");
    srv_server_stop(s);
    fprintf(stderr, "ncore serve: stopped\n");
    return CLI_OK;
}
