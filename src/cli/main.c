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
#ifdef __GLIBC__
#include <malloc.h>
#endif

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "merge") == 0)
		return jg_merge_main(argc - 1, argv + 1);
	signal(SIGPIPE, SIG_IGN);
#ifdef __GLIBC__
	/*
	 * Every transfer has curl's 64 KiB receive buffer, of which a slow or
	 * idle one touches a page or two. From glibc's heap each buffer also
	 * dirties the pages its neighbours' headers land on, and a freed one
	 * stays in the heap; mapped on its own, it costs only what is
	 * touched and goes back to the system when freed. 500 transfers at
	 * 64 KiB/s: 21.3 MB peak RSS from the heap, 19.9 MB mapped
	 * (bench/idle_rss.py). The workers, forked later, inherit it.
	 */
	mallopt(M_MMAP_THRESHOLD, 64 * 1024);
#endif
	struct cli_args args;
	cli_args_parse(&args, argc, argv);
	int status = cli_run(&args, argc, argv);
	cli_args_fini(&args);
	return status;
}
