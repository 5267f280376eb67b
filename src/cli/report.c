#include "report.h"
#include "say.h"
#include "progress.h"
#include "json.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* At most this many failures, and this many notes, are listed in the
 * summary. */
enum { SUMMARY_FAILURES = 20, SUMMARY_NOTES = 20 };

struct report_line {
	struct report_line *next;
	char text[];
};

/* Erases the progress line, before a line of another kind. */
static void clear_progress(const struct jg_report *r)
{
	if (r->progress)
		progress_clear(r->progress);
}

int jg_report_init(struct jg_report *r, struct progress *progress, int quiet,
                   const char *json_path)
{
	memset(r, 0, sizeof *r);
	r->progress = progress;
	r->quiet = quiet;
	r->failures_tail = &r->failures;
	r->notes_tail = &r->notes;
	return json_report_open(&r->json, json_path);
}

void jg_report_set_total(struct jg_report *r, uint64_t total)
{
	r->total = total;
	r->per_book = !r->quiet && total <= 50;
}

int jg_report_set_mirrors(struct jg_report *r, const char *const *mirrors, size_t n)
{
	if (n < 2)
		return 0;
	r->mirror_books = calloc(n + 1, sizeof *r->mirror_books);
	r->mirrors = malloc(n * sizeof *r->mirrors);
	if (!r->mirror_books || !r->mirrors)
		return -1;
	memcpy(r->mirrors, mirrors, n * sizeof *r->mirrors);
	r->n_mirrors = n;
	return 0;
}

/* The mirror a book came from: the one its final URL starts with (the
 * host's case aside); n_mirrors when a redirect took it elsewhere. */
static size_t mirror_of(const struct jg_report *r, const char *url)
{
	for (size_t i = 0; i < r->n_mirrors; i++) {
		size_t m = strlen(r->mirrors[i]);
		while (m > 0 && r->mirrors[i][m - 1] == '/')
			m--;
		if (strncasecmp(url, r->mirrors[i], m) == 0 && url[m] == '/')
			return i;
	}
	return r->n_mirrors;
}

static void print_mirrors(const struct jg_report *r)
{
	if (!r->n_mirrors)
		return;
	jg_say(stderr, "juggle: books per mirror:");
	for (size_t i = 0; i < r->n_mirrors; i++)
		jg_say(stderr, "%s %s %" PRIu64, i ? "," : "", r->mirrors[i], r->mirror_books[i]);
	if (r->mirror_books[r->n_mirrors])
		jg_say(stderr, ", elsewhere (redirected) %" PRIu64, r->mirror_books[r->n_mirrors]);
	jg_say(stderr, "\n");
}

/* Appends a line to a summary list, unless `limit` lines are there. */
__attribute__((format(printf, 5, 6)))
static void remember(struct report_line ***tail, uint64_t *count, uint64_t limit, size_t size,
                     const char *fmt, ...)
{
	if (++*count > limit)
		return;
	struct report_line *l = malloc(sizeof *l + size);
	if (!l)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(l->text, size, fmt, ap);
	va_end(ap);
	l->next = NULL;
	**tail = l;
	*tail = &l->next;
}

static void remember_failure(struct jg_report *r, const char *url, const char *why)
{
	remember(&r->failures_tail, &r->n_failures, SUMMARY_FAILURES, strlen(url) + strlen(why) + 3,
	         "%s: %s", url, why);
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

/* What the summary says of a saved book beyond "ok". */
static void remember_notes(struct jg_report *r, const struct jg_result *res)
{
	size_t size = strlen(res->url) + strlen(res->file) + 512;
	if (res->foreign_file)
		remember(&r->notes_tail, &r->n_notes, SUMMARY_NOTES, size + strlen(res->foreign_file),
		         "%.*s%s was there before and is not juggle's (no record of it in .juggle): "
		         "left alone; %s is in %s", (int)(base_name(res->file) - res->file), res->file,
		         res->foreign_file, res->url, base_name(res->file));
	if (res->content_type && (strncasecmp(res->content_type, "text/html", 9) == 0 ||
	                          strncasecmp(res->content_type, "application/xhtml", 17) == 0))
		remember(&r->notes_tail, &r->n_notes, SUMMARY_NOTES, size,
		         "%s: served as %.100s, not plain text: counted as text, markup and all",
		         res->url, res->content_type);
	if (res->charset_note)
		remember(&r->notes_tail, &r->n_notes, SUMMARY_NOTES, size + strlen(res->charset_note),
		         "%s: %s", res->url, res->charset_note);
}

void jg_report_input_error(struct jg_report *r, const char *source, unsigned long line,
                           const char *text, const char *why)
{
	char where[600];
	if (text)
		snprintf(where, sizeof where, "%s:%lu: %.500s", source, line, text);
	else
		snprintf(where, sizeof where, "%s:%lu", source, line);
	clear_progress(r);
	jg_say(stderr, "juggle: %s: %s\n", where, why);
	r->input_errors++;
	json_report_input_error(&r->json, source, line, text, why);
}

/* A word list as "w n w n": a book's, or the whole run's top words. */
static void say_words(const char *head, const struct jg_word_count *w, size_t n)
{
	char *line = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&line, &len);
	if (!f)
		return;
	fputs(head, f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, " %s %" PRIu64, w[i].word, w[i].count);
	fclose(f);
	jg_say(stderr, "%s\n", line);
	free(line);
}

/* One line per counted book, when the run is small enough to read. */
static void print_book_counts(struct jg_report *r, const struct jg_result *res)
{
	const char *name = res->file ? strrchr(res->file, '/') : NULL;
	char head[600], words[32], distinct[32];
	snprintf(head, sizeof head, "%.400s: %s words, %s distinct;", name ? name + 1 : res->url,
	         jg_count_text(res->words, words), jg_count_text(res->distinct, distinct));
	clear_progress(r);
	say_words(head, res->top, res->n_top);
}

void jg_report_event(struct jg_report *r, const struct jg_event *e)
{
	if (!r->verbose)
		return;
	clear_progress(r);
	switch (e->kind) {
	case JG_EVENT_START:
		if (e->attempt > 1)
			jg_say(stderr, "juggle: GET %s (attempt %u)\n", e->url, e->attempt);
		else
			jg_say(stderr, "juggle: GET %s\n", e->url);
		break;
	case JG_EVENT_REDIRECT:
		jg_say(stderr, "juggle: %s redirects to %s\n", e->url, e->detail);
		break;
	case JG_EVENT_RETRY:
		jg_say(stderr, "juggle: %s: %s; again in %.1f s\n", e->url, e->detail, e->delay);
		break;
	case JG_EVENT_MIRROR:
		jg_say(stderr, "juggle: the mirror failed it (%s); next mirror: %s\n", e->detail, e->url);
		break;
	}
}

void jg_report_worker_restart(struct jg_report *r, unsigned restarts)
{
	if (!r->verbose)
		return;
	clear_progress(r);
	jg_say(stderr, "juggle: a worker process died and was started again (%u so far); its "
	       "book is counted again\n", restarts);
}

void jg_report_book(struct jg_report *r, const struct jg_result *res,
                    const struct json_origin *from)
{
	int ok = res->err == 0;
	if (ok) {
		r->ok++;
		r->bytes += res->bytes;
		if (res->reused)
			r->reused_bytes += res->bytes;
		if (r->n_mirrors && !res->reused)
			r->mirror_books[mirror_of(r, res->final_url)]++;
		r->continued_bytes += res->continued_from;
		remember_notes(r, res);
	} else if (res->err == JG_ECANCELED) {
		r->cancelled++; /* not a failure: a rerun fetches it */
	} else {
		r->failed++;
		remember_failure(r, res->url, res->error);
		if (r->failed_list)
			fprintf(r->failed_list, "%s\n", res->url);
		/* A run too long for a line per book says each failure as it
		 * comes, not only 20 at the end. */
		if (r->running && (r->verbose || (!r->quiet && !r->per_book))) {
			clear_progress(r);
			jg_say(stderr, "juggle: FAILED %s: %s\n", res->url, res->error);
		}
	}
	json_report_book(&r->json, res, from);
	if (res->counted)
		r->counted_books++;
	if (ok && r->verbose) {
		char size[32];
		progress_human_bytes((double)res->bytes, size, sizeof size);
		clear_progress(r);
		jg_say(stderr, "juggle: %s %s: %s\n", res->reused ? "kept" : "saved", res->url, size);
	}
	if (res->counted && r->per_book)
		print_book_counts(r, res);
}

static void print_summary(struct jg_report *r, const struct json_run *run)
{
	double wall = run ? run->wall : 0;
	char bytes[32], speed[32], kept[64] = "";
	/* The rate is of what this run saved: kept books and the partial
	 * bodies continued cost no transfer. */
	uint64_t on_disk = r->reused_bytes + r->continued_bytes;
	uint64_t moved = r->bytes - on_disk;
	progress_human_bytes((double)r->bytes, bytes, sizeof bytes);
	progress_human_bytes(wall > 0 ? moved / wall : 0, speed, sizeof speed);
	if (on_disk) {
		char b[32];
		progress_human_bytes((double)on_disk, b, sizeof b);
		snprintf(kept, sizeof kept, " (%s already on disk)", b);
	}
	if (r->interrupted) {
		/* What matters now: what is safe, and that a rerun goes on. */
		uint64_t left = r->total > r->ok + r->failed ? r->total - r->ok - r->failed : 0;
		char saved[32], not_fetched[32], failed[32];
		jg_say(stderr, "juggle: interrupted: %s saved, %s not fetched",
		       jg_count_text(r->ok, saved), jg_count_text(left, not_fetched));
		if (r->failed)
			jg_say(stderr, ", %s failed", jg_count_text(r->failed, failed));
		jg_say(stderr, "; run again to resume\n");
		for (struct report_line *f = r->failures; f; f = f->next)
			jg_say(stderr, "  FAILED %s\n", f->text);
		return;
	}
	char ok[32], failed[32], lines[96], retries[96];
	jg_say(stderr, "juggle: %s ok, %s failed", jg_count_text(r->ok, ok),
	       jg_count_text(r->failed + r->input_errors, failed));
	if (r->input_errors)
		jg_say(stderr, " (%s)", jg_count_of(r->input_errors, "bad input line", "bad input lines",
		                                    lines));
	if (!run) {
		jg_say(stderr, "; %s in %u shards\n", bytes, r->merged_shards);
	} else {
		jg_say(stderr, "; %s%s in %.2f s (%s/s); %s", bytes, kept, wall, speed,
		       jg_count_of(run->retries, "retry", "retries", retries));
		/* The loop's health is for those who look into juggle itself. */
		if (r->verbose)
			jg_say(stderr, "; loop stall max %.1f ms, p99 %.1f ms", run->stall_max * 1e3,
			       run->stall_p99 * 1e3);
		jg_say(stderr, "\n");
	}
	if (run && run->engine != JG_ENGINE_LOOP)
		jg_say(stderr, "juggle: %s engine, %u threads started\n", jg_engine_name(run->engine),
		        run->threads);
	print_mirrors(r);
	for (struct report_line *f = r->failures; f; f = f->next)
		jg_say(stderr, "  FAILED %s\n", f->text);
	if (r->n_failures > SUMMARY_FAILURES)
		jg_say(stderr, "  ... and %" PRIu64 " more failures\n", r->n_failures - SUMMARY_FAILURES);
	for (struct report_line *n = r->notes; n; n = n->next)
		jg_say(stderr, "  note: %s\n", n->text);
	if (r->n_notes > SUMMARY_NOTES)
		jg_say(stderr, "  ... and %" PRIu64 " more notes (see --json)\n",
		        r->n_notes - SUMMARY_NOTES);
}

void jg_report_counts(struct jg_report *r, const struct jg_counts *c, unsigned top)
{
	struct jg_word_count words[64];
	size_t n = jg_counts_top(c, top > 64 ? 64 : top, words);
	r->have_counts = 1;
	r->count_words = jg_counts_total(c);
	r->count_distinct = jg_counts_distinct(c);
	for (size_t i = 0; i < n; i++) {
		r->top[i].word = strdup(words[i].word);
		r->top[i].count = words[i].count;
		if (r->top[i].word)
			r->n_top = i + 1;
	}
	/* Nothing counted (every book failed): no line of zeros. */
	if (r->quiet || (r->count_words == 0 && r->counted_books == 0))
		return;
	char head[160], words_text[32], distinct[32];
	snprintf(head, sizeof head, "juggle: %s words, %s distinct; top %zu:",
	         jg_count_text(r->count_words, words_text), jg_count_text(r->count_distinct, distinct),
	         r->n_top);
	clear_progress(r);
	say_words(head, r->top, r->n_top);
}

int jg_report_finish(struct jg_report *r, const struct json_run *run)
{
	if (r->progress)
		progress_end(r->progress);
	if (!r->quiet || r->failed || r->input_errors)
		print_summary(r, run);
	struct json_totals t = {
		.urls = r->total,
		.ok = r->ok,
		.failed = r->failed, /* books: urls == ok + failed + cancelled */
		.cancelled = r->cancelled,
		.reused_bytes = r->reused_bytes,
		.input_errors = r->input_errors,
		.bytes = r->bytes,
		.have_counts = r->have_counts,
		.words = r->count_words,
		.distinct = r->count_distinct,
		.top = r->top,
		.n_top = r->n_top,
	};
	return json_report_finish(&r->json, &t, run, r->merged_shards);
}

void jg_report_fini(struct jg_report *r)
{
	json_report_close(&r->json);
	struct report_line *lists[] = {r->failures, r->notes};
	for (size_t i = 0; i < 2; i++)
		while (lists[i]) {
			struct report_line *l = lists[i];
			lists[i] = l->next;
			free(l);
		}
	for (size_t i = 0; i < r->n_top; i++)
		free((char *)r->top[i].word);
	free(r->mirrors);
	free(r->mirror_books);
}
