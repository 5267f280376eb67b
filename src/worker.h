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

/* Serves frames from `in_fd`, answers on `out_fd`; returns at EOF. */
int jg_worker_main(int in_fd, int out_fd);

#endif
