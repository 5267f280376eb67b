#include "resume.h"
#include "snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* What the run is told; the policy prints nothing itself. */
__attribute__((format(printf, 2, 3)))
static void notice(const struct jg_resume *r, const char *fmt, ...)
{
	if (!r->notice)
		return;
	char text[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	r->notice(r->notice_ctx, text);
}

static const char *manifest_path(const struct jg_resume *r, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s/manifest", r->dir, JG_MF_DIR);
	return buf;
}

int jg_resume_open(struct jg_resume *r, const char *dir, unsigned count_flags, int refresh,
                   jg_resume_notice_fn notice_fn, void *notice_ctx)
{
	memset(r, 0, sizeof *r);
	r->notice = notice_fn;
	r->notice_ctx = notice_ctx;
	r->dirfd = r->jfd = -1;
	jg_mf_init(&r->old);
	jg_mf_init(&r->now);
	r->w.fd = -1;
	r->refresh = refresh;
	r->counting = !(count_flags & JG_COUNT_OFF);
	jg_mf_count_mode(count_flags, r->count_mode, sizeof r->count_mode);
	if (!(r->dir = strdup(dir))) {
		notice(r, "out of memory");
		return -1;
	}
	char why[600], path[PATH_MAX + 64];
	/* The session holds the directory's lock: no other run writes here.
	 * Every file is reached through these two descriptors, never through
	 * a symlink a writer of DIR planted. */
	r->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r->dirfd < 0 || (r->jfd = jg_mf_open_dir(dir, 1, why, sizeof why)) < 0) {
		notice(r, "%s", r->dirfd < 0 ? strerror(errno) : why);
		return -1;
	}
	if (jg_mf_load(&r->old, r->jfd, dir, why, sizeof why) < 0) {
		notice(r, "%s; not resuming from it", why);
		jg_mf_fini(&r->old);
		r->old.found = 1; /* something is there: do not adopt files */
		return 0;
	}
	manifest_path(r, path, sizeof path);
	if (r->old.bad_line)
		notice(r, "%s:%lu: fails its checksum; not trusted, rebuilding it "
		        "from the files in %s", path, r->old.bad_line, dir);
	else if (r->old.torn_line)
		notice(r, "%s:%lu: cut short (an interrupted run), dropped", path,
		        r->old.torn_line);
	r->usable = r->old.found && !r->old.bad_line;
	return 0;
}

/* A file's mtime in nanoseconds; saturated past the year 2262, where the
 * product no longer fits (a file dated 2300 is still compared exactly
 * with its own record, which saturates the same way). */
static int64_t mtime_ns(const struct timespec *mtime)
{
	int64_t ns;
	if (__builtin_mul_overflow((int64_t)mtime->tv_sec, (int64_t)1000000000, &ns) ||
	    __builtin_add_overflow(ns, (int64_t)mtime->tv_nsec, &ns))
		return mtime->tv_sec < 0 ? INT64_MIN : INT64_MAX;
	return ns;
}

/* Is the book's file still the one recorded? Size and mtime, no hashing:
 * a complete directory of 10,000 books must resume in milliseconds. */
static int file_intact(const struct jg_resume *r, const struct jg_mf_book *b)
{
	struct stat st;
	return fstatat(r->dirfd, b->file, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
	       (uint64_t)st.st_size == b->bytes && mtime_ns(&st.st_mtim) == b->mtime_ns;
}

/* Loads the sealed snapshot when everything it covers still holds. */
static int load_snapshot(struct jg_resume *r, char *why, size_t why_len)
{
	const struct jg_manifest *m = &r->old;
	for (size_t i = 0; i < m->n_books; i++) {
		const struct jg_mf_book *b = &m->books[i];
		if (!b->sealed)
			continue;
		/* Counts of a book no longer listed cannot be taken out: quietly
		 * count the books again (a list that shrank is no damage). */
		if (!b->listed) {
			why[0] = '\0';
			return -1;
		}
		if (!file_intact(r, b)) {
			snprintf(why, why_len, "%.250s/%.250s changed since it was counted", r->dir, b->file);
			return -1;
		}
	}
	r->prior_counts = jg_snapshot_load(r->jfd, r->dir, m, why, why_len);
	return r->prior_counts ? 0 : -1;
}

static void plan_list(struct jg_resume *r, uint64_t list_hash, uint64_t list_order,
                      uint64_t list_urls, uint32_t shard_k, uint32_t shard_n)
{
	struct jg_manifest *now = &r->now, *old = &r->old;
	now->list_hash = list_hash;
	now->list_order = list_order;
	now->list_urls = list_urls;
	now->shard_k = shard_k;
	now->shard_n = shard_n;
	now->juggle_version = strdup(jg_version());
	now->count_mode = strdup(r->count_mode);
	/* File names follow the list's order: the same list in the same order
	 * gives each book the name it had, so a file under that name is that
	 * book, and the books the snapshot sealed are the ones kept. */
	int same_list = r->usable && old->list_hash == list_hash && old->list_urls == list_urls &&
	                old->list_order == list_order &&
	                old->shard_k == shard_k && old->shard_n == shard_n && old->juggle_version &&
	                strcmp(old->juggle_version, jg_version()) == 0;
	/* A file with no record is taken only where a juggle run of this very
	 * list was (a kill between its rename and its record), or where the
	 * manifest is damaged and the run rebuilds from the files; never in a
	 * directory juggle has not written: a note, a wget leftover, an error
	 * page under a book's name is not that book. */
	r->adopt = !r->refresh && old->found && (old->bad_line || same_list);
	r->next_gen = old->has_seal ? old->seal.gen + 1 : 1;
	/* Another list over the same directory (books added to it, say) is
	 * ordinary: each URL is still matched to its own record. */
	/* The snapshot holds for another list too (books added, say) when
	 * every book it sealed is still listed, unchanged; whether each keeps
	 * its file name only the session can tell (jg_resume_refused). */
	if (!r->counting || r->refresh || !r->usable || !old->has_seal || old->seal_broken ||
	    !old->count_mode || strcmp(old->count_mode, r->count_mode) != 0 ||
	    old->shard_k != shard_k || old->shard_n != shard_n || !old->juggle_version ||
	    strcmp(old->juggle_version, jg_version()) != 0)
		return;
	char why[600];
	if (load_snapshot(r, why, sizeof why) < 0) {
		if (why[0])
			notice(r, "%s; counting the saved books again", why);
		jg_counts_free(r->prior_counts);
		r->prior_counts = NULL;
		return;
	}
	r->snapshot_ok = 1;
}

static void mark_listed(struct jg_resume *r, const char *text)
{
	struct jg_mf_book *b = r->usable ? jg_mf_find(&r->old, text) : NULL;
	if (b)
		b->listed = 1;
}

void jg_resume_refused(struct jg_resume *r, const char *text)
{
	const struct jg_mf_book *b = r->usable ? jg_mf_find(&r->old, text) : NULL;
	if (b && b->sealed && r->snapshot_ok)
		r->snapshot_refused = 1;
}

/* The prior to add list line `text` with; NULL: fetch it as usual. */
static const struct jg_prior *prior_of(struct jg_resume *r, const char *text,
                                       struct jg_prior *out)
{
	struct jg_mf_book *b = r->usable ? jg_mf_find(&r->old, text) : NULL;
	memset(out, 0, sizeof *out);
	/* A file changed since it was recorded (by hand, or by a book of
	 * another list that took its name) is not that book any more. */
	if (b && b->ok && !file_intact(r, b))
		return NULL;
	if (b && b->ok) {
		out->file = b->file;
		out->bytes = b->bytes;
		out->etag = b->etag;
		out->last_modified = b->last_modified;
		out->content_type = b->content_type;
		if (r->refresh)
			out->use = JG_PRIOR_REVALIDATE;
		else if (!r->counting || (r->snapshot_ok && b->sealed))
			out->use = JG_PRIOR_KEEP;
		else
			out->use = JG_PRIOR_RECOUNT;
		return out;
	}
	/* A failure is tried again; a file nobody recorded is taken when the
	 * list is the one that named it. */
	if (b || !r->adopt)
		return NULL;
	out->use = JG_PRIOR_RECOUNT;
	return out;
}

static void plan_priors(struct jg_resume *r, const char *const *texts, size_t n,
                        struct jg_prior *plan)
{
	for (size_t i = 0; i < n; i++)
		if (!prior_of(r, texts[i], &plan[i]))
			memset(&plan[i], 0, sizeof plan[i]);
}

void jg_resume_plan(struct jg_resume *r, const struct jg_list_id *list, const char *const *texts,
                    size_t n, struct jg_prior *plan)
{
	for (size_t i = 0; i < n; i++)
		mark_listed(r, texts[i]);
	plan_list(r, list->hash, list->order, list->urls, list->shard_k, list->shard_n);
	plan_priors(r, texts, n, plan);
}

void jg_resume_drop_snapshot(struct jg_resume *r, const char *const *texts, size_t n,
                             struct jg_prior *plan)
{
	r->snapshot_ok = 0;
	r->snapshot_refused = 0;
	jg_counts_free(r->prior_counts);
	r->prior_counts = NULL;
	plan_priors(r, texts, n, plan); /* sealed books are counted again now */
}

void jg_resume_claim_files(struct jg_resume *r, struct jg_session *s)
{
	/* Every file a record names was written by juggle, whichever list's
	 * book it was; records before a damaged line are still whole. */
	for (size_t i = 0; i < r->old.n_books; i++)
		if (r->old.books[i].ok && r->old.books[i].file)
			jg_session_claim_file(s, r->old.books[i].file);
}

int jg_resume_start(struct jg_resume *r, uint64_t accepted)
{
	char why[600];
	struct jg_manifest *old = &r->old;
	r->now.accepted = accepted;
	if (jg_mf_begin(&r->w, r->jfd, r->dir, why, sizeof why) < 0) {
		notice(r, "%s: cannot keep a manifest, this run could not be resumed", why);
		return -1;
	}
	jg_mf_hold(&r->w); /* the compaction in a few writes, the run's records by iteration */
	jg_mf_write_header(&r->w, &r->now);
	for (size_t i = 0; i < r->now.n_input_errors; i++)
		jg_mf_write_input_error(&r->w, &r->now.input_errors[i]);
	/* Sealed books first, then their seal: a seal covers what precedes. */
	if (r->snapshot_ok) {
		for (size_t i = 0; i < old->n_books; i++)
			if (old->books[i].sealed && jg_mf_write_book(&r->w, &old->books[i]) == 0) {
				old->books[i].carried = 1;
				r->saved++;
			}
		jg_mf_write_seal(&r->w, &old->seal);
	}
	/* Saved books whose counts are not sealed are still saved books, but
	 * a seal written after them must not cover them: they are pending
	 * until they are counted again and recorded anew. */
	if (r->usable)
		for (size_t i = 0; i < old->n_books; i++) {
			struct jg_mf_book b = old->books[i];
			if (!b.ok || (r->snapshot_ok && b.sealed))
				continue;
			/* Another list's book: an O record, which no seal covers
			 * (it would stay pending for ever), while its file is
			 * still the one it saved. */
			if (!b.listed) {
				b.other = 1;
				b.pending = 0;
				if (file_intact(r, &b))
					jg_mf_write_book(&r->w, &b);
				continue;
			}
			/* A file changed since is fetched again: its old record
			 * says nothing true any more. */
			if (!file_intact(r, &b))
				continue;
			b.other = 0;
			b.pending = 1;
			if (jg_mf_write_book(&r->w, &b) == 0) {
				old->books[i].carried = 1;
				r->saved++;
			}
		}
	if (jg_mf_commit(&r->w, why, sizeof why) < 0) {
		notice(r, "%s: cannot keep a manifest, this run could not be resumed", why);
		jg_mf_close(&r->w);
		return -1;
	}
	jg_snapshot_remove_stale(r->jfd, r->snapshot_ok ? old->seal.gen : 0);
	r->writing = 1;
	return 0;
}

static void warn_write_failed(struct jg_resume *r)
{
	char path[4096];
	if (!r->writing || !r->w.failed)
		return;
	notice(r, "%s: %s; a rerun will fetch what this one could not record",
	        manifest_path(r, path, sizeof path), strerror(r->w.err));
	r->writing = 0;
}

void jg_resume_book(struct jg_resume *r, const char *text, uint64_t index, struct jg_result *res,
                    const struct timespec *mtime, struct jg_word_count *top, char *words,
                    size_t words_len)
{
	if (res->err == JG_ECANCELED)
		return;
	const struct jg_mf_book *rec = r->usable ? jg_mf_find(&r->old, text) : NULL;
	/* Whether this run's manifest holds its record already. */
	int ours = rec && rec->carried;
	if (res->err == JG_OK && res->reused && !res->sha256 && ours) {
		/* Kept as it was: its record is in the manifest already. */
		r->kept++;
		if (r->counting && rec->counted)
			jg_mf_book_counts(rec, res, top, words, words_len);
		res->sha256 = rec->sha256;
		return;
	}
	if (res->err == JG_OK && res->reused) {
		if (res->http_code == 304)
			r->revalidated++;
		else
			r->recounted++;
	}
	if (!r->writing)
		return;
	struct jg_mf_book b;
	jg_mf_book_from_result(&b, res, text, index);
	if (b.ok) {
		struct stat st;
		if (mtime)
			b.mtime_ns = mtime_ns(mtime);
		else if (fstatat(r->dirfd, b.file, &st, AT_SYMLINK_NOFOLLOW) == 0)
			b.mtime_ns = mtime_ns(&st.st_mtim);
		if (!ours)
			r->saved++; /* else its earlier record was carried over */
	} else if (ours && r->saved > 0) {
		r->saved--;
	}
	jg_mf_write_book(&r->w, &b);
	free(b.top);
	warn_write_failed(r);
}

void jg_resume_flush(struct jg_resume *r)
{
	if (!r->writing)
		return;
	jg_mf_flush(&r->w);
	warn_write_failed(r);
}

void jg_resume_input_error(struct jg_resume *r, const char *source, unsigned long line,
                           const char *text, const char *why)
{
	struct jg_mf_input_error e = {(char *)source, (char *)text, (char *)why, line};
	if (!r->writing) {
		/* Found while reading the list: written with the header. */
		jg_mf_put_input_error(&r->now, &e);
		return;
	}
	jg_mf_write_input_error(&r->w, &e);
	warn_write_failed(r);
}

static void wait_for_sealer(struct jg_resume *r);

const struct jg_counts *jg_resume_seal(struct jg_resume *r, const struct jg_counts *pool_counts,
                                       int final)
{
	/* The pool's table holds every book counted by this run; the books
	 * kept from earlier runs are in the snapshot loaded at the start.
	 * With none, the pool's table is the whole and is sealed as it is: a
	 * copy of it cost a full insert of every word. */
	r->sealed_written = 0;
	jg_counts_free(r->all);
	r->all = NULL;
	const struct jg_counts *all = pool_counts;
	if (r->prior_counts) {
		struct jg_counts *merged = jg_counts_new();
		if (!merged || jg_counts_merge(merged, r->prior_counts) != JG_OK ||
		    jg_counts_merge(merged, pool_counts) != JG_OK) {
			notice(r, "out of memory while merging the counts");
			jg_counts_free(merged);
			return NULL;
		}
		r->all = merged;
		all = merged;
	}
	if (!r->writing)
		return all;
	wait_for_sealer(r);
	char why[600];
	struct jg_mf_seal seal = {r->next_gen, r->saved, jg_counts_total(all), jg_counts_distinct(all), 0};
	/* The seal is the commit point; the older snapshot goes after it.
	 * The final one is synced: the run's work is done, and a crash of
	 * the machine after it finds both files whole. A checkpoint is not:
	 * fsync would block the loop, and the rename already protects it
	 * from a killed process. */
	if (jg_snapshot_write(r->jfd, r->dir, all, &seal, final, why, sizeof why) < 0) {
		notice(r, "%s; a rerun will count the books again", why);
		return all;
	}
	if (jg_mf_write_seal(&r->w, &seal) == 0) {
		r->sealed_written = 1;
		r->sealed_gen = seal.gen;
		if (final)
			fdatasync(r->w.fd);
		jg_snapshot_remove_stale(r->jfd, seal.gen);
		r->next_gen++;
		r->seals++;
	}
	warn_write_failed(r);
	return all;
}

int jg_resume_open_sealed(const struct jg_resume *r)
{
	if (!r->sealed_written)
		return -1;
	char name[64];
	jg_mf_snapshot_name(r->sealed_gen, name, sizeof name);
	return openat(r->jfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
}

/* The child's seal, or its end without one: the seal line is written. */
static void take_seal(struct jg_resume *r)
{
	int fd = r->sealer_watch.fd;
	struct jg_mf_seal seal;
	ssize_t n;
	while ((n = read(fd, &seal, sizeof seal)) < 0 && errno == EINTR)
		;
	close(fd);
	/* Reaped by the default loop's SIGCHLD watcher, or here. */
	waitpid(r->sealer, NULL, WNOHANG);
	r->sealer = 0;
	if (n != (ssize_t)sizeof seal)
		notice(r, "a checkpoint's snapshot could not be written; a rerun will count the "
		       "books since the last one again");
	else if (jg_mf_write_seal(&r->w, &seal) == 0) {
		jg_snapshot_remove_stale(r->jfd, seal.gen);
		r->next_gen++;
		r->seals++;
	}
	warn_write_failed(r);
	if (r->sealed)
		r->sealed(r->sealed_ctx);
}

static void on_sealer_done(struct ev_loop *loop, ev_io *w, int revents)
{
	ev_io_stop(loop, w);
	take_seal(w->data);
}

void jg_resume_checkpoint(struct jg_resume *r, struct ev_loop *loop,
                          const struct jg_counts *pool_counts, void (*sealed)(void *ctx),
                          void *ctx)
{
	int fds[2] = {-1, -1};
	pid_t pid = -1;
	if (r->writing && r->may_fork && !r->sealer && pipe2(fds, O_CLOEXEC) == 0)
		pid = fork();
	if (pid == 0) {
		/* The child: a copy of the tables as they are now. It merges,
		 * writes and reports its seal, and leaves by _exit: nothing of
		 * the parent's (stdio buffers, atexit) runs twice. */
		close(fds[0]);
		struct jg_counts *all = jg_counts_new();
		if (!all || (r->prior_counts && jg_counts_merge(all, r->prior_counts) != JG_OK) ||
		    jg_counts_merge(all, pool_counts) != JG_OK)
			_exit(1);
		char why[600];
		struct jg_mf_seal seal = {r->next_gen, r->saved, jg_counts_total(all),
		                          jg_counts_distinct(all), 0};
		if (jg_snapshot_write(r->jfd, r->dir, all, &seal, 0, why, sizeof why) < 0 ||
		    write(fds[1], &seal, sizeof seal) != (ssize_t)sizeof seal)
			_exit(1);
		_exit(0);
	}
	if (pid < 0) {
		if (fds[0] >= 0) {
			close(fds[0]);
			close(fds[1]);
		}
		jg_resume_seal(r, pool_counts, 0);
		if (sealed)
			sealed(ctx);
		return;
	}
	close(fds[1]);
	r->sealer = pid;
	r->loop = loop;
	r->sealed = sealed;
	r->sealed_ctx = ctx;
	ev_io_init(&r->sealer_watch, on_sealer_done, fds[0], EV_READ);
	r->sealer_watch.data = r;
	ev_io_start(loop, &r->sealer_watch);
}

/* A checkpoint's child still writing: its seal is waited for, so the
 * final one comes after it (and no child outlives the run). */
static void wait_for_sealer(struct jg_resume *r)
{
	if (!r->sealer)
		return;
	ev_io_stop(r->loop, &r->sealer_watch);
	r->sealed = NULL; /* the run has moved on: nothing is held for it */
	take_seal(r);
}

void jg_resume_close(struct jg_resume *r)
{
	wait_for_sealer(r);
	jg_mf_close(&r->w);
	if (r->jfd >= 0)
		close(r->jfd);
	if (r->dirfd >= 0)
		close(r->dirfd);
	r->jfd = r->dirfd = -1;
	jg_mf_fini(&r->old);
	jg_mf_fini(&r->now);
	jg_counts_free(r->prior_counts);
	jg_counts_free(r->all);
	free(r->dir);
	r->dir = NULL;
	r->prior_counts = NULL;
	r->all = NULL;
}
