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
	char error[700];
	snprintf(error, sizeof error, "%s:%lu: %s", source, line, why);
	json_report_book(&r->json, text ? text : "", NULL, 0, 0, 0, 0, 0, error, NULL);
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
	char head[600];
	snprintf(head, sizeof head, "%.400s: %" PRIu64 " words, %" PRIu64 " distinct;",
	         name ? name + 1 : res->url, res->words, res->distinct);
	clear_progress(r);
	say_words(head, res->top, res->n_top);
}

void jg_report_book(struct jg_report *r, const struct jg_result *res)
{
	int ok = res->err == 0;
	if (ok) {
		r->ok++;
		r->bytes += res->bytes;
		if (res->reused)
			r->reused_bytes += res->bytes;
		r->continued_bytes += res->continued_from;
		remember_notes(r, res);
	} else {
		r->failed++;
		remember_failure(r, res->url, res->error);
	}
	json_report_book(&r->json, res->url, res->file, ok, res->http_code, res->bytes, res->attempts,
	                 res->elapsed, res->error, res);
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
	jg_say(stderr, "juggle: %" PRIu64 " ok, %" PRIu64 " failed", r->ok,
	        r->failed + r->input_errors);
	if (r->input_errors)
		jg_say(stderr, " (%" PRIu64 " bad input lines)", r->input_errors);
	if (!run)
		jg_say(stderr, "; %s in %u shards\n", bytes, r->merged_shards);
	else
		jg_say(stderr, "; %s%s in %.2f s (%s/s); %" PRIu64 " retries; loop stall max %.1f ms, "
		        "p99 %.1f ms\n", bytes, kept, wall, speed, run->retries, run->stall_max * 1e3,
		        run->stall_p99 * 1e3);
	if (run && run->engine != JG_ENGINE_LOOP)
		jg_say(stderr, "juggle: %s engine, %u threads started\n", jg_engine_name(run->engine),
		        run->threads);
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
	if (r->quiet)
		return;
	char head[128];
	snprintf(head, sizeof head, "juggle: %" PRIu64 " words, %" PRIu64 " distinct; top %zu:",
	         r->count_words, r->count_distinct, r->n_top);
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
		.failed = r->failed + r->input_errors,
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
}
