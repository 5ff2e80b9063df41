/* ncore — inspect and run ONNX models with libncore. The commands are in
 * commands.def. Exit codes: 0 success, 1 runtime error, 2 usage error. */
#include <string.h>

#include "cli.h"

typedef struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *synopsis, *summary;
} command;

static const command commands[] = {
#define NC_CMD(name, fn, synopsis, summary) {name, fn, synopsis, summary},
#include "commands.def"
#undef NC_CMD
};

static void usage(FILE *f) {
    fputs("usage: ncore [--help] [--version] COMMAND [ARGS]\n\n"
          "Inspect and run ONNX models with libncore.\n\ncommands:\n",
          f);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-26s %s\n", commands[i].synopsis, commands[i].summary);
    fputs("\nRun 'ncore COMMAND --help' for a command's options.\n"
          "Exit status: 0 success, 1 error, 2 usage error.\n",
          f);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return CLI_OK;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        /* The library may be newer than the header the tool was built with. */
        printf("ncore %s (libncore %s)\n", NC_VERSION_STRING, nc_version_string());
        return CLI_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(cmd, commands[i].name) == 0) return commands[i].fn(argc - 1, argv + 1);
    if (cmd[0] == '-')
        fprintf(stderr, "ncore: unknown option '%s'\n", cmd);
    else
        fprintf(stderr, "ncore: unknown command '%s'\n", cmd);
    fputs("Try 'ncore --help'.\n", stderr);
    return CLI_USAGE;
}
