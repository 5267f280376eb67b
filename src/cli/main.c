/*
 * juggle: the command line, a thin client of the library in juggle.h.
 * `juggle merge ...` combines shards (merge.c); anything else is a run:
 * the options (args.c), then the run (run.c).
 */
#include "args.h"
#include "merge.h"
#include "run.h"

#include <signal.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "merge") == 0)
		return jg_merge_main(argc - 1, argv + 1);
	signal(SIGPIPE, SIG_IGN);
	struct cli_args args;
	cli_args_parse(&args, argc, argv);
	int status = cli_run(&args, argc, argv);
	cli_args_fini(&args);
	return status;
}
