/*
 * A worker process's main: blocking reads and writes are fine here. It
 * saves each book atomically, counts its words, answers with the book's
 * figures, and hands its running table to the loop at bounded intervals
 * (so a crash loses little) and whenever asked.
 */
#ifndef JG_WORKER_H
#define JG_WORKER_H

/* Hand the table over after this many books or bytes of text. */
#define JG_WORKER_FLUSH_BOOKS 32
#define JG_WORKER_FLUSH_BYTES (32u << 20)

/*
 * Makes a freshly started process a worker: default signal handlers and
 * an empty mask (a respawn may fork from inside a loop's handlers), Ctrl-C
 * ignored (the loop process ends workers by EOF), and a batch priority.
 */
void jg_worker_settle(void);
/* 1 when this build has the tests' fault injection that harms files
 * (debug builds): JUGGLE_TEST_WORKER_CUT_MAPPED=BYTES cuts BYTES off the
 * end of each mapped book once mapped, or with JUGGLE_TEST_WORKER_CUT_AT=
 * hash just before it is hashed. */
int jg_worker_test_hooks(void);

/* Serves frames from `in_fd`, answers on `out_fd`; returns at EOF. */
int jg_worker_main(int in_fd, int out_fd);

#endif
