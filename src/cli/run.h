/* One run of the command line: run.c says what it does. */
#ifndef JG_CLI_RUN_H
#define JG_CLI_RUN_H

#include "args.h"

/* Runs the URLs `args` names (argv from args->first_url, and its lists);
 * the exit status. */
int cli_run(const struct cli_args *args, int argc, char **argv);

#endif
