/*
 * The command line's options: the one option table, the usage text, and
 * parsing into the library's setters (jg_options) and the run's own
 * settings. A usage error prints why and exits with status 2.
 */
#ifndef JG_CLI_ARGS_H
#define JG_CLI_ARGS_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "juggle.h"
#include "shard.h"

enum exit_code { EXIT_ALL_OK = 0, EXIT_SOME_FAILED = 1, EXIT_USAGE = 2, EXIT_INTERRUPTED = 130 };

struct cli_args {
	struct jg_options *opts;   /* the library's settings, set from the options */
	const char **lists;        /* -i FILE, in order */
	size_t n_lists;
	const char **mirrors;      /* --mirror URL, in order (none: the default) */
	size_t n_mirrors;
	struct cli_config config;  /* the file's lines, which options point into */
	int first_url;             /* argv index of the first URL argument */
	int quiet;
	int verbose;               /* -v */
	int limit_rate;            /* --limit-rate given */
	const char *json;
	const char *counts_path;
	const char *failed_path;   /* --failed FILE */
	unsigned workers;          /* 0: one per online CPU */
	unsigned count_flags;
	unsigned top;
	enum jg_engine engine;
	unsigned threads;
	unsigned jobs;             /* 0: the library's default */
	struct jg_shard shard;
	const char *outdir;        /* NULL: "texts" */
	int refresh;
	double checkpoint;         /* seconds between count seals; 0: at the end */
	double wait;               /* --wait */
	int random_wait, wait_set;
	int proxy_given;           /* -x: the *_proxy variables are not read */
};

/* Parses argv; exits on --help, --version or a usage error. */
void cli_args_parse(struct cli_args *a, int argc, char **argv);
void cli_args_fini(struct cli_args *a);

__attribute__((format(printf, 1, 2), noreturn))
void cli_usage_error(const char *fmt, ...);

#endif
