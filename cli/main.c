/* main.c — the hearth command: dispatches to one command per file. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} commands[] = {
    {"run", cmd_run, "generate text (or ids) from a prompt"},
    {"chat", cmd_chat, "a multi-turn conversation in the terminal"},
    {"tokenize", cmd_tokenize, "tokenize stdin with a model's tokenizer"},
    {"logits", cmd_logits, "write the logits of every position of a token sequence"},
    {"info", cmd_info, "describe a model file"},
    {"serve", cmd_serve, "serve models over HTTP (OpenAI and Ollama APIs)"},
    {"stats", cmd_stats, "summarise the router's audit log: local vs cloud, privacy, money saved"},
    {"quantize", cmd_quantize, "rewrite a model with its weight matrices quantized"},
    {"synth", cmd_synth, "write a random-weight model with a real model's exact shapes"},
    {"bench", cmd_bench, "measure prompt and generation speed, memory, load time"},
};

static void usage(FILE *out) {
    fprintf(out, "hearth %s — local-first LLM engine\n\nusage: hearth COMMAND [ARGS]\n\ncommands:\n", HEARTH_VERSION);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n`hearth COMMAND --help` describes each command.\n\n"
                 "exit codes: 0 ok, 1 failure, 2 usage error, 3 model could not be loaded,\n"
                 "            4 input does not fit the context, 130 interrupted\n");
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    if (!strcmp(argv[1], "--version")) { printf("hearth %s\n", HEARTH_VERSION); return EXIT_OK; }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    cli_error("unknown command '%s' (see hearth --help)", argv[1]);
    return EXIT_USAGE;
}
