/*
 * The manifest: what a run left in its output directory, so that a run
 * started again over it (a scheduler's retry, or by hand after a kill -9)
 * fetches only what is missing, and `juggle merge` can combine shards.
 *
 * It is a journal, DIR/.juggle/manifest: one record per line, appended
 * as books finish (a run's records of one loop iteration in one write(2),
 * jg_mf_hold), each line ending in the CRC-32 of the line. A line cut
 * short by a kill is detected and dropped; a line
 * that fails its check anywhere else means the file cannot be trusted, and
 * the run rebuilds from the files themselves. Each run starts by writing
 * a compacted copy (temporary file + rename), so the journal never grows
 * beyond one record per book of the current list.
 *
 *   H  the header: format version, juggle version, the list's fingerprint
 *      (order-free hash and size of every URL line), the shard K/N and the
 *      counting mode; first line only
 *   B  a saved book: URL, file, bytes, mtime, SHA-256, validators, the
 *      charset it was counted in and how that was decided, its per-book
 *      figures
 *   O  a book another list saved in this directory, whose file is still
 *      there as it was saved: the same fields as B. Kept so that its file
 *      is known to be juggle's (never "a file that was there before") and
 *      so that a later run of that list finds it; no seal covers it, and
 *      merge does not count it
 *   F  a failed URL and why
 *   E  an input line that was not a URL, and why
 *   S  a seal: the counts of every B record before it are in the snapshot
 *      DIR/.juggle/counts.GEN.tsv (whose CRC-32 and totals it records)
 *
 * Books are the CLI's business: the library knows nothing of this file.
 */
#ifndef JG_MANIFEST_H
#define JG_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "juggle.h"
#include "shard.h"

#define JG_MF_VERSION 1
#define JG_MF_DIR ".juggle"
/* The longest book name the session gives (store.h's JG_NAME_MAX and a
 * ".NNN" suffix): longer "file=" values are not juggle's. */
#define JG_NAME_LIMIT (240 + 24)

struct jg_mf_book {
	int ok;                    /* B (saved) or F (failed) */
	int other;                 /* O: saved by a run of another list */
	int sealed;                /* its counts are in the snapshot */
	uint64_t index;            /* position in the whole list, 0-based */
	char *text;                /* the list's line: the key */
	char *url, *file, *sha256, *etag, *last_modified, *content_type, *final_url;
	char *charset, *charset_from; /* what it was counted in, and why */
	char *error;               /* F: why */
	char *top;                 /* "word:count word:count ..." or NULL */
	uint64_t bytes, words, distinct;
	int64_t mtime_ns;
	long http;
	unsigned attempts, redirects;
	int err;
	int counted;
	int pending;               /* saved, but its counts are in no snapshot:
	                              a seal after it does not cover it */
	int listed;                /* in memory only: in the current list */
	int carried;               /* in memory only: this run's manifest has
	                              its record (compaction wrote it as B) */
};

struct jg_mf_input_error {
	char *source, *text, *error;
	unsigned long line;
};

struct jg_mf_seal {
	uint64_t gen, books, words, distinct;
	uint32_t crc;              /* of the snapshot file's bytes */
};

struct jg_manifest {
	int found;                 /* a manifest was there */
	char *juggle_version;
	uint64_t list_hash, list_urls;
	uint64_t list_order;       /* the lines' hashes in order: file names */
	uint32_t shard_k, shard_n; /* n == 0: not sharded */
	char *count_mode;
	uint64_t accepted;         /* URLs of the list this shard took */
	struct jg_mf_book *books;
	size_t n_books, cap_books;
	uint32_t *slots;           /* URL -> book + 1; 0 empty */
	size_t mask;
	struct jg_mf_input_error *input_errors;
	size_t n_input_errors, cap_input_errors;
	int has_seal;
	struct jg_mf_seal seal;
	int seal_broken;           /* a sealed book was recorded again after */
	unsigned long torn_line;   /* the last line, cut short and dropped */
	unsigned long bad_line;    /* first line failing its check elsewhere */
};

void jg_mf_init(struct jg_manifest *m);
void jg_mf_fini(struct jg_manifest *m);
/*
 * Opens DIR/.juggle (made first when `create`) as a directory in its own
 * right, never through a symlink: every file of the journal is then
 * reached through it. A descriptor, or -1 with `why` (errno ENOENT when it
 * does not exist).
 */
int jg_mf_open_dir(const char *dir, int create, char *why, size_t why_len);

/*
 * Reads `jfd`'s manifest (`dir` names DIR in messages). 0 (also when
 * there is none: m->found = 0, and when damaged: torn_line / bad_line say
 * where), or -1 with `why` when it cannot be read at all.
 */
int jg_mf_load(struct jg_manifest *m, int jfd, const char *dir, char *why, size_t why_len);
/* The book recorded last for the list line `text`, or NULL. */
struct jg_mf_book *jg_mf_find(const struct jg_manifest *m, const char *text);
/* Records (or replaces) a book; the manifest copies every string. 0 or -1. */
int jg_mf_put(struct jg_manifest *m, const struct jg_mf_book *b);
int jg_mf_put_input_error(struct jg_manifest *m, const struct jg_mf_input_error *e);

/* Appends records to a manifest being written. */
struct jg_mf_writer {
	int fd;
	int jfd;                   /* DIR/.juggle, borrowed */
	char *dir;                 /* DIR/.juggle, for messages */
	int failed;                /* a write failed: errno in `err` */
	int err;
	int holding;               /* records wait for jg_mf_flush() */
	char *held;                /* those records, JG_MF_HOLD_MAX bytes at most */
	size_t held_len;
};

/* Records held at most before they are written anyway. */
#define JG_MF_HOLD_MAX (64 * 1024)

/*
 * Starts a fresh manifest in `jfd` (DIR/.juggle) under a temporary name;
 * jg_mf_commit() renames it over the old one. 0, or -1 with `why`.
 */
int jg_mf_begin(struct jg_mf_writer *w, int jfd, const char *dir, char *why, size_t why_len);
int jg_mf_commit(struct jg_mf_writer *w, char *why, size_t why_len);
void jg_mf_close(struct jg_mf_writer *w);
/*
 * From now on records are held in memory and written together by
 * jg_mf_flush(), which the caller calls once per loop iteration: one
 * write(2) for all the books that finished in it, instead of one each.
 * A kill loses the records held, no more: those of books whose files
 * are saved (resume.h says what a rerun makes of a file without a
 * record). jg_mf_commit(), jg_mf_close() and a seal write them first.
 */
void jg_mf_hold(struct jg_mf_writer *w);
/* Writes the records held, in one write(2). 0, or -1 (w->failed). */
int jg_mf_flush(struct jg_mf_writer *w);
/* Each writes one record (held, when holding); -1 on a write error (also
 * kept in w->failed). A seal is written at once, the records held before it. */
int jg_mf_write_header(struct jg_mf_writer *w, const struct jg_manifest *m);
int jg_mf_write_book(struct jg_mf_writer *w, const struct jg_mf_book *b);
int jg_mf_write_input_error(struct jg_mf_writer *w, const struct jg_mf_input_error *e);
int jg_mf_write_seal(struct jg_mf_writer *w, const struct jg_mf_seal *s);

/*
 * Whether the seal agrees with the books it covers: their recorded words
 * add up to the snapshot's total (a check of sense, not of intent: a CRC
 * and a sum can both be forged).
 */
int jg_mf_seal_consistent(const struct jg_manifest *m);

/* "counts.GEN.tsv", the snapshot's name in DIR/.juggle, into `out`. */
void jg_mf_snapshot_name(uint64_t gen, char *out, size_t len);
/* CRC-32 of regular file `name` in `jfd`. 0, or -1 with errno. */
int jg_mf_file_crc(int jfd, const char *name, uint32_t *crc);

/*
 * A recorded book's figures into a result, as a run reports them: words,
 * distinct words, its top words (into `top`, their text copied into
 * `words`; 64 words of up to 1024 bytes need 64 * 1025 bytes), and the
 * charset it was counted in (pointers into `b`).
 */
#define JG_MF_TOP_MAX 64
#define JG_MF_TOP_WORDS (JG_MF_TOP_MAX * 1025)
void jg_mf_book_counts(const struct jg_mf_book *b, struct jg_result *res,
                       struct jg_word_count top[JG_MF_TOP_MAX], char *words, size_t words_len);

/*
 * The two directions between a book's result and its record: the one
 * shape (jg_result) a run reports, the manifest keeps and merge reads.
 *
 * jg_mf_book_from_result() fills `b` from `res` (the list's line `text`
 * at `index`), borrowing every string but b->top, which it allocates
 * (free it; NULL when out of memory: the record goes without its top
 * words). The file is the last part of res->file; b->mtime_ns is left 0
 * for the caller, who has the directory.
 *
 * jg_mf_book_to_result() fills `res` from `b`, saved under directory
 * `dir`: the path goes into `path`, the top words as jg_mf_book_counts
 * does; the strings are borrowed from `b`.
 */
void jg_mf_book_from_result(struct jg_mf_book *b, const struct jg_result *res, const char *text,
                            uint64_t index);
void jg_mf_book_to_result(const struct jg_mf_book *b, const char *dir, struct jg_result *res,
                          char *path, size_t path_len, struct jg_word_count top[JG_MF_TOP_MAX],
                          char *words, size_t words_len);

/* The "off" / "words" / "whitespace[+boilerplate]" name of counting flags. */
const char *jg_mf_count_mode(unsigned count_flags, char *buf, size_t len);

#endif
