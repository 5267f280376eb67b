/*
 * Partial bodies: what a killed run, a stalled or cut attempt left of a
 * large body, kept so that the next attempt (or the next run) asks only
 * for the rest (`Range: bytes=N-` with `If-Range`).
 *
 * They live in DIR/.juggle/partial/, away from the books: nothing ever
 * appears under a book's final name before its body is whole. For the
 * book of URL, KEY is the URL's 64-bit hash in 16 hex digits: the URL is
 * the partial's identity, not the book's file name, which follows the
 * list's order (another list may give the name to another URL, and the
 * URL another name).
 *
 *   KEY              the bytes so far: a second name (a hard link) of the
 *                    temporary file the body is being written to, so the
 *                    writing goes on exactly as for any other body, and
 *                    what was written survives the temporary name (swept,
 *                    or removed when the attempt fails)
 *   .KEY.resume      its sidecar: the URL, the validator, the length
 *   .KEY.resume.tmp  the sidecar being written (then renamed over it)
 *
 * "." KEY ".resume" is one-to-one with KEY, which never starts with a
 * dot, and ends as no temporary does, so no two of these names can meet. Only a body that came with no
 * Content-Encoding and a strong validator (a strong ETag; else a
 * Last-Modified a second older than the answer's Date, RFC 9110 8.8.2.2)
 * and is over JG_PARTIAL_MIN bytes is kept. Partials are not swept at
 * start as temporary files are; a book's partial goes when the book
 * completes, fails for good or starts again from its first byte.
 *
 * A file is only ever continued when it is a regular file with no other
 * name (a link planted there, or a book committed but its partial not yet
 * dropped by a killed run, is refused and dropped), never through a
 * symlink, and only for the URL its sidecar names.
 */
#ifndef JG_PARTIAL_H
#define JG_PARTIAL_H

#include <stddef.h>
#include <stdint.h>

#include "juggle.h"
#include "store.h"

/* A body is kept for continuing once this many of its bytes are on disk. */
#define JG_PARTIAL_MIN (1u << 20)
/* Longest validator kept; a longer one makes a body not resumable. */
#define JG_PARTIAL_VALIDATOR_MAX 512
/* Largest sidecar read: the URL, the validator and a few words. */
#define JG_PARTIAL_META_MAX (JG_URL_MAX + JG_PARTIAL_VALIDATOR_MAX + 256)

#define JG_PARTIAL_DIR "partial" /* in DIR/.juggle */
/* A partial's name: 16 hex digits (room to spare). */
#define JG_PARTIAL_KEY_MAX 32

enum jg_validator { JG_VALIDATOR_NONE, JG_VALIDATOR_ETAG, JG_VALIDATOR_DATE };

/* What a sidecar says. Parsed, its strings point into the parsed text. */
struct jg_partial_meta {
	const char *url;
	enum jg_validator kind;
	const char *validator;  /* the ETag as sent (quotes included), or the date */
	uint64_t length;        /* the whole body's length; 0: not known */
};

/*
 * The sidecar's text for `m`, into `buf` (`cap` bytes): its length, or -1
 * when a field is empty, too long or holds a control byte.
 */
int jg_partial_meta_format(const struct jg_partial_meta *m, char *buf, size_t cap);
/*
 * Parses `len` bytes of sidecar in `text` (changed in place: values are
 * NUL-terminated there; text[len] must be writable). 0, or -1 when it is
 * not exactly a sidecar jg_partial_meta_format() could have written.
 */
int jg_partial_meta_parse(char *text, size_t len, struct jg_partial_meta *m);

struct jg_partials {
	int statefd;            /* DIR/.juggle, or -1 */
	_Atomic int dirfd;      /* DIR/.juggle/partial once it exists, or -1: made
	                           when a body is first kept (on an engine thread,
	                           maybe: whoever makes it first sets it) */
	int enabled;            /* bodies may be kept and continued */
	_Atomic int maybe_any;  /* some partial may be there: drops are worth trying */
	struct jg_trash *trash; /* the store's: where dropped bytes are freed */
};

/*
 * Opens DIR/.juggle/partial, if there is one, for store `st`, whose lock
 * must be held, and removes sidecars left half written; a symlink or a
 * file in its place is refused. It is made when a body is first kept.
 * 0, or -1 with `why`.
 */
int jg_partials_open(struct jg_partials *p, struct jg_store *st, int enabled, char *why,
                     size_t why_len);
void jg_partials_close(struct jg_partials *p);

/* A partial found for a book. */
struct jg_partial_found {
	uint64_t bytes;         /* on disk, all contiguous: ask for the rest */
	enum jg_validator kind;
	char validator[JG_PARTIAL_VALIDATOR_MAX + 1];
	uint64_t length;        /* 0: not known */
};

/*
 * The partial of the book of `url`, when there is one: it is linked
 * under a new temporary name of `st` and opened there in `tmp`, at its
 * end, so the attempt writes its rest as it would a new body. 1 when
 * found; 0 when none (one that does not hold is dropped); -1 with errno
 * when the link or the open failed (EMFILE and the like: try again later).
 */
int jg_partial_take(struct jg_partials *p, struct jg_store *st, const char *url,
                    struct jg_store_temp *tmp, struct jg_partial_found *out);

/*
 * Keeps the body being written to `tmp_name` (a temporary file of the
 * store, in `store_dirfd`) as the partial of the book of m->url: its
 * sidecar first, then the link. Safe on an engine thread. 0, or -1
 * (nothing left behind: the body is simply not resumable).
 */
int jg_partial_link(struct jg_partials *p, int store_dirfd, const char *tmp_name,
                    const struct jg_partial_meta *m);

/*
 * The partial of the book of `url` goes, if it has one; its blocks,
 * when it was the file's last name, through the trash (freeing a large
 * file at once would hold the loop). On the loop thread.
 */
void jg_partial_drop(struct jg_partials *p, const char *url);
/* Only its names go: for a caller that holds another name of the file
 * (nothing is freed). Safe on an engine thread. */
void jg_partial_unlink(struct jg_partials *p, const char *url);

#endif
