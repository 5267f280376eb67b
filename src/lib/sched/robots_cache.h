/*
 * robots.txt answers kept between runs, in DIR/.juggle/robots/: one file
 * per origin, trusted for JG_ROBOTS_CACHE_TTL seconds from its fetch
 * (RFC 9309 2.4 asks crawlers not to keep one longer than 24 hours).
 * Only answers that say something are kept: a 2xx with its body (at most
 * JG_ROBOTS_MAX_BYTES: what is read of it) and a 4xx; an origin that did
 * not answer is asked again next run.
 *
 * A file is "juggle-robots 1", "origin ORIGIN", "fetched UNIX-SECONDS",
 * "status NNN", each on its line, an empty line, then the body. It is
 * written under a temporary name (".NAME.part") and renamed, so a reader
 * sees a whole file or the one before; no fsync (a lost file only costs a
 * request). Reading never follows a symlink, trusts a file only when its
 * origin line is the origin asked for (names are a hash: two origins may
 * meet) and its time lies within the last 24 hours, and takes anything
 * else for no file.
 */
#ifndef JG_ROBOTS_CACHE_H
#define JG_ROBOTS_CACHE_H

#include <stddef.h>

#define JG_ROBOTS_CACHE_DIR "robots"
#define JG_ROBOTS_CACHE_TTL (24 * 3600.0)

struct jg_robots_cache {
	int dirfd;          /* DIR/.juggle/robots; -1: closed */
	const char *dir;    /* DIR, for messages; borrowed */
};

/*
 * Opens (creating it) JG_ROBOTS_CACHE_DIR in state directory `statefd`
 * (DIR/.juggle, of output directory `dir`), and removes the temporary
 * files killed runs left in it: call with the output directory's lock
 * held. 0, or -1 with `why` (a symlink or a file in its place is refused).
 */
int jg_robots_cache_open(struct jg_robots_cache *c, int statefd, const char *dir, char *why,
                         size_t why_len);
void jg_robots_cache_close(struct jg_robots_cache *c);

/*
 * The kept answer of `origin` ("http://host:port") if one is fresh at
 * `now` (seconds since the epoch): 1 with `*status` and `*body` (malloc'd,
 * the caller frees; NULL when empty) of `*len` bytes; 0 when there is none.
 */
int jg_robots_cache_load(const struct jg_robots_cache *c, const char *origin, double now,
                         long *status, char **body, size_t *len);

/* Keeps `origin`'s answer, fetched at `now`. 0, or -1 (errno set). */
int jg_robots_cache_save(const struct jg_robots_cache *c, const char *origin, double now,
                         long status, const char *body, size_t len);

/* The file name `origin` is kept under, into `out` (JG_ROBOTS_CACHE_NAME bytes). */
#define JG_ROBOTS_CACHE_NAME 160
void jg_robots_cache_name(const char *origin, char *out);

#endif
