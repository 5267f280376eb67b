/*
 * Resuming a run over an output directory that already holds some of its
 * books, through the manifest (manifest.h). The CLI reads its whole list
 * first, then asks, URL by URL, what an earlier run left:
 *
 *   a book saved and sealed in the count snapshot   kept: no request, its
 *                                                   counts come from there
 *   a book saved, counts not sealed (a kill)        counted again from its
 *                                                   file: no request
 *   a file under the book's name, no record         the same (a kill between
 *                                                   the rename and the record)
 *   failed, or nothing there                        fetched
 *   with --refresh, every saved book                a conditional GET
 *
 * so that a run killed at any moment and started again ends with the
 * files and counts of a run that was never interrupted.
 */
#ifndef JG_RESUME_H
#define JG_RESUME_H

#include <ev.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "juggle.h"
#include "manifest.h"

/* A line for the user ("... ; not resuming from it"), without "juggle: ". */
typedef void (*jg_resume_notice_fn)(void *ctx, const char *text);

struct jg_resume {
	jg_resume_notice_fn notice;   /* the run prints; resume itself prints nothing */
	void *notice_ctx;
	char *dir;
	int dirfd;                    /* DIR, and DIR/.juggle: files are opened */
	int jfd;                      /* through them (the session holds the lock) */
	struct jg_manifest old;       /* what earlier runs left */
	struct jg_manifest now;       /* this run's header */
	struct jg_mf_writer w;
	int refresh, counting;
	char count_mode[32];
	int usable;                   /* `old` can be believed */
	int adopt;                    /* files without a record are this list's */
	int snapshot_ok;              /* its sealed books' counts are loaded */
	int snapshot_refused;         /* a sealed book did not keep its name */
	struct jg_counts *prior_counts; /* the snapshot, when snapshot_ok */
	struct jg_counts *all;        /* the table of the last seal, when a merge
	                                 made it (NULL: the pool's was sealed) */
	int sealed_written;           /* the last seal's snapshot is on disk */
	uint64_t sealed_gen;          /* and is this generation's */
	uint64_t next_gen;
	int writing;                  /* the manifest is being kept up to date */
	uint64_t kept, recounted, revalidated;
	uint64_t saved;               /* B records in the manifest now */
	unsigned seals;               /* seals written by this run */
	/* A checkpoint sealed by a child process (jg_resume_checkpoint): */
	int may_fork;                 /* no threads: fork() is safe */
	pid_t sealer;                 /* 0: none running */
	struct ev_loop *loop;
	ev_io sealer_watch;           /* its seal comes back on a pipe */
	void (*sealed)(void *ctx);
	void *sealed_ctx;
};

/*
 * Loads DIR's manifest and tells `notice` what it found (a damaged or cut
 * short manifest, a different list). 0, or -1 after telling why.
 */
int jg_resume_open(struct jg_resume *r, const char *dir, unsigned count_flags, int refresh,
                   jg_resume_notice_fn notice, void *notice_ctx);

/* The list a run was given: what tells one list from another. */
struct jg_list_id {
	uint64_t hash, urls;       /* every URL line's jg_shard_hash summed; their number */
	uint64_t order;            /* the same, hashed in order */
	uint32_t shard_k, shard_n;
};

/*
 * The plan, once the whole list is read: whether the count snapshot holds,
 * and for each of this shard's lines (`texts`, in list order) what an
 * earlier run left of it: plan[i].use is 0 to fetch texts[i] as usual,
 * else the prior to add it with (its strings point into the manifest).
 */
void jg_resume_plan(struct jg_resume *r, const struct jg_list_id *list, const char *const *texts,
                    size_t n, struct jg_prior *plan);

/*
 * Tells the session which files in the directory juggle wrote (any list's
 * books the manifest records), so that it may save books over them; it
 * keeps its hands off every other file. Call before adding URLs.
 */
void jg_resume_claim_files(struct jg_resume *r, struct jg_session *s);

/*
 * The session refused the prior of `text` (jg_session_priors_refused
 * grew): it is fetched again. When its counts are in the snapshot, sets
 * snapshot_refused: the URLs must be queued again, in a new session, with
 * the plan jg_resume_drop_snapshot() makes anew without the snapshot.
 */
void jg_resume_refused(struct jg_resume *r, const char *text);
void jg_resume_drop_snapshot(struct jg_resume *r, const char *const *texts, size_t n,
                             struct jg_prior *plan);

/*
 * Once the URLs are added (`accepted` of them): writes the compacted
 * manifest and keeps it open for the records of this run. 0, or -1 after
 * printing why (the run goes on, without a manifest).
 */
int jg_resume_start(struct jg_resume *r, uint64_t accepted);

/*
 * A finished book: appends its record. `mtime` is its file's, when the
 * session knew it (jg_session_result_mtime), NULL: the file is looked at.
 * A book kept from the earlier run gets its recorded figures back (top
 * words into `top`, 64 entries).
 */
void jg_resume_book(struct jg_resume *r, const char *text, uint64_t index,
                    struct jg_result *res, const struct timespec *mtime,
                    struct jg_word_count *top, char *words, size_t words_len);
void jg_resume_input_error(struct jg_resume *r, const char *source, unsigned long line,
                           const char *text, const char *why);
/*
 * Writes the records of the books that finished since the last call, in
 * one write(2): call it once per loop iteration (an ev_prepare). A kill
 * loses what is not written yet: a rerun over the directory with the
 * same list takes the saved files that have no record as this list's
 * books (the table above), a rerun with another list leaves them be, as
 * files that were there before it; a failure without its record is
 * fetched again.
 */
void jg_resume_flush(struct jg_resume *r);

/*
 * The pool is quiet (every book handed to it is counted and recorded;
 * at the end of the run, or at a checkpoint with counting held): the
 * run's table is the snapshot's plus the pool's. Writes it as the next
 * snapshot and seals it (`final`: the run's last seal, synced to disk).
 * Returns the whole table (owned by `r`, or `pool_counts` itself when no
 * earlier run counted books; valid until the next call and while the
 * pool's table is unchanged), or NULL after printing why.
 */
const struct jg_counts *jg_resume_seal(struct jg_resume *r, const struct jg_counts *pool_counts,
                                       int final);
/* The snapshot the last jg_resume_seal() wrote, opened for reading: the
 * TSV of the table it returned, byte for byte. -1 when it wrote none. */
int jg_resume_open_sealed(const struct jg_resume *r);

/*
 * A checkpoint's seal, off the loop: a forked child merges the table,
 * sorts and writes the snapshot (the 30 ms of a large table) while the
 * loop goes on; once it has, the seal line is written here and `sealed`
 * called. The books must stay held from the workers until then: a seal
 * covers every book recorded before its line. Without fork (threads
 * run, or fork failed) it seals inline and calls `sealed` before
 * returning.
 */
void jg_resume_checkpoint(struct jg_resume *r, struct ev_loop *loop,
                          const struct jg_counts *pool_counts, void (*sealed)(void *ctx),
                          void *ctx);

void jg_resume_close(struct jg_resume *r);

#endif
