/* ncore — inspect and run ONNX models with libncore.
 *
 *   ncore info MODEL [--json]
 *   ncore run MODEL [--input NAME=FILE ...] [--random] [--output-dir DIR] ...
 *   ncore list-ops [--json]
 *
 * Exit codes: 0 success, 1 runtime error, 2 usage error. */
#include <string.h>

#include "cli.h"

static const char usage_text[] =
    "usage: ncore [--help] [--version] COMMAND [ARGS]\n"
    "\n"
    "Inspect and run ONNX models with libncore.\n"
    "\n"
    "commands:\n"
    "  info MODEL [--json]         IR/opset, inputs and outputs, parameters, op histogram\n"
    "  run MODEL [OPTIONS]         run a model on inputs from .npy/.pb files or random data\n"
    "  list-ops [--json]           the supported ops and their opset ranges\n"
    "\n"
    "Run 'ncore COMMAND --help' for a command's options.\n"
    "Exit status: 0 success, 1 error, 2 usage error.\n";

int main(int argc, char **argv) {
    if (argc < 2) {
        fputs(usage_text, stderr);
        return CLI_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage_text, stdout);
        return CLI_OK;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        /* The library may be newer than the header the tool was built with. */
        printf("ncore %s (libncore %s)\n", NC_VERSION_STRING, nc_version_string());
        return CLI_OK;
    }
    if (strcmp(cmd, "info") == 0) return cmd_info(argc - 1, argv + 1);
    if (strcmp(cmd, "run") == 0) return cmd_run(argc - 1, argv + 1);
    if (strcmp(cmd, "list-ops") == 0) return cmd_list_ops(argc - 1, argv + 1);
    if (cmd[0] == '-')
        fprintf(stderr, "ncore: unknown option '%s'\n", cmd);
    else
        fprintf(stderr, "ncore: unknown command '%s'\n", cmd);
    fputs("Try 'ncore --help'.\n", stderr);
    return CLI_USAGE;
}
