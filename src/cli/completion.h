/*
 * Shell completion for bash and zsh, generated from the one option table
 * (args.c), so that it cannot disagree with what juggle accepts. meson
 * runs `juggle --completion bash|zsh` at build time and installs the
 * scripts.
 */
#ifndef JG_CLI_COMPLETION_H
#define JG_CLI_COMPLETION_H

#include <getopt.h>
#include <stdio.h>

/* Writes the script for `shell` ("bash" or "zsh"). 0, or -1 for another shell. */
int cli_completion_write(FILE *f, const char *shell, const struct option *options,
                         const char *short_options);

#endif
