/*
 * Where books go on disk: their names, and atomic saving. A book is
 * written to a file with no name (O_TMPFILE) that is linked under its
 * final name only when complete; where the filesystem refuses that, to a
 * temporary name in the same directory, renamed when complete. Either
 * way no final name ever shows a file that is not whole.
 */
#ifndef JG_STORE_H
#define JG_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct jg_trash;

/* Longest file name written, leaving room for a ".NNNNNNN" suffix. */
#define JG_NAME_MAX 240

/*
 * Writes a safe file name made of `seg` (`len` bytes) into `out` (at least
 * JG_NAME_MAX + 1 bytes): no '/', no control bytes, no leading dots, at most
 * JG_NAME_MAX bytes, not cut inside a UTF-8 sequence. Returns its length,
 * 0 when nothing usable is left.
 */
size_t jg_store_sanitize(const char *seg, size_t len, char *out);

/*
 * How a store's temporary files are made, learnt from its first one:
 * O_TMPFILE and a link by descriptor cost a directory entry less per book
 * than a name created and then renamed (and a killed run leaves nothing
 * behind), but not every filesystem has them (NFS, vfat, older FUSE).
 */
enum jg_store_temps {
	JG_TEMPS_UNKNOWN = 0,  /* nothing made yet: O_TMPFILE is tried */
	JG_TEMPS_FLINK,        /* O_TMPFILE, linked by linkat(fd, "", AT_EMPTY_PATH) */
	JG_TEMPS_PROC,         /* O_TMPFILE, linked through /proc/self/fd/N (a
	                          kernel before 6.10 allows AT_EMPTY_PATH only
	                          with CAP_DAC_READ_SEARCH) */
	JG_TEMPS_NAMED,        /* a temporary name, renamed: no O_TMPFILE here */
};

struct jg_store {
	int dirfd;
	int lock_fd;       /* DIR/.juggle/lock, flock()ed: -1 until jg_store_lock */
	char *dir;
	_Atomic uint64_t serial; /* makes temporary names unique in the process
	                            (engine threads name spilled bodies too) */
	uint32_t token;    /* tells this store's temporary files from others' */
	long pid;          /* the process that opened it (each opens its own):
	                      read once, not a getpid() per book */
	struct jg_trash *trash; /* where aborted temporary files go; NULL: closed
	                           at once (a worker may block, the loop not) */
	_Atomic int temps;  /* enum jg_store_temps; a test may set it before the
	                       first file to force a way */
};

/* juggle's own state in an output directory (a book's name never starts
 * with a dot), and the lock file in it. */
#define JG_STORE_STATE ".juggle"
#define JG_STORE_LOCK "lock"

/* Creates `dir` if missing and opens it. 0, or -1 with `why` filled. */
int jg_store_open(struct jg_store *st, const char *dir, uint32_t token, char *why, size_t why_len);
void jg_store_close(struct jg_store *st);

/*
 * Takes the directory's lock: an exclusive flock() on DIR/.juggle/lock
 * (neither through a symlink), held until jg_store_close(). It is what tells a live
 * run from a dead one, whatever PID namespace or host it runs in (flock
 * works across NFSv4 clients), so a second session over the directory is
 * refused rather than let loose on the first one's files. 0; 1 when
 * another holds it; -1 with `why`.
 */
int jg_store_lock(struct jg_store *st, char *why, size_t why_len);

/*
 * With the lock held: removes every temporary file in the directory, all
 * left by runs that are over (killed, or their orphaned workers'). Returns
 * how many it removed.
 */
unsigned jg_store_sweep(struct jg_store *st);

/*
 * Opens saved book `name` to read it again: never through a symlink,
 * never blocking on a FIFO, and only a regular file of `size` bytes with
 * inode `ino` (0: any), the one that was checked. A descriptor, or -1
 * with `why`.
 */
int jg_store_open_book(struct jg_store *st, const char *name, uint64_t size, uint64_t ino,
                       char *why, size_t why_len);

/*
 * Calls `fn` with the name of every entry of the directory that could be a
 * book's (not ".", "..", nor any other name that starts with a dot: books
 * never do, and juggle's own files all do). Stops at fn's first non-zero
 * and returns it; -1 when the directory cannot be read.
 */
int jg_store_list(struct jg_store *st, int (*fn)(void *ctx, const char *name), void *ctx);

/* A file being written in the store's directory, not yet a book. */
struct jg_store_temp {
	int fd;            /* -1: none */
	char name[64];     /* its temporary name; "": it has none (O_TMPFILE) */
};

/* Opens a new temporary file (without a name where the filesystem allows).
 * 0, or -1 with `why` filled. */
int jg_store_begin(struct jg_store *st, struct jg_store_temp *tmp, char *why, size_t why_len);
/*
 * Gives a temporary file without a name a temporary name, for what needs
 * one (a partial is a second name, base/partial.h); nothing when it has
 * one. The caller owns `tmp` (no other thread may use it meanwhile).
 * 0, or -1 with errno.
 */
int jg_store_name(struct jg_store *st, struct jg_store_temp *tmp);
/*
 * Links `name` of directory `dirfd` (a regular file with no other name,
 * never a symlink) under a new temporary name and opens it there for
 * writing, at its end, whose offset goes to `*size`: a file kept
 * elsewhere goes on as a temporary file of the store (base/partial.h).
 * 0, or -1 with errno (EMLINK: the file has other names) and nothing left.
 */
int jg_store_begin_from(struct jg_store *st, struct jg_store_temp *tmp, int dirfd,
                        const char *name, uint64_t *size);
/*
 * The commit point: the temporary file becomes book `name` and is closed.
 * One without a name is linked under `name` (where `name` is taken, by an
 * earlier run's book or anything else, it gets a temporary name first and
 * is renamed over it, so that it is replaced in one step); one with a
 * name is renamed to it. 0, or -1 with `why` filled and the temporary
 * file gone.
 */
int jg_store_commit(struct jg_store *st, struct jg_store_temp *tmp, const char *name, char *why,
                    size_t why_len);
/* Removes the temporary file, if any: its name at once, its blocks
 * through the store's trash. */
void jg_store_abort(struct jg_store *st, struct jg_store_temp *tmp);
/* write(2) until done or an error (errno set): 0 or -1. */
int jg_write_all(int fd, const void *buf, size_t len);
/* The same with pwrite(2) at offset `at` (`at` < 0: write(2)). */
int jg_pwrite_all(int fd, const void *buf, size_t len, off_t at);

/*
 * Saves `len` bytes as `name` atomically. 0, or -1 with `why` filled; on
 * failure neither the final name nor a temporary file is left behind.
 */
int jg_store_save(struct jg_store *st, const char *name, const void *buf, size_t len,
                  char *why, size_t why_len);

#endif
