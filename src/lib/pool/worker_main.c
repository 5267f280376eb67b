/*
 * juggle-worker: a worker process started by fork + exec, for hosts that
 * already run threads (see jg_pool_new() in juggle.h). The pool hands it
 * its pipe ends as standard input and output.
 */
#include "worker.h"

int main(void)
{
	jg_worker_settle();
	return jg_worker_main(0, 1);
}
