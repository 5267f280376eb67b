#include "report.h"
#include "say.h"
#include "progress.h"

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

/* A JSON string that strict parsers take: UTF-8 always (a byte that is
 * not part of a well-formed sequence becomes U+FFFD), controls escaped. */
static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		switch (*p) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\t': fputs("\\t", f); break;
		default:
			if (*p < 0x20 || *p == 0x7f) {
				fprintf(f, "\\u%04x", *p);
			} else if (*p < 0x80) {
				fputc(*p, f);
			} else {
				size_t n = jg_utf8_seq_len(p);
				if (n) {
					fwrite(p, 1, n, f);
					p += n - 1;
				} else {
					fputs("\\ufffd", f);
				}
			}
		}
	}
	fputc('"', f);
}

static void json_field(FILE *f, const char *key, const char *value)
{
	if (!value)
		return;
	fprintf(f, ",\"%s\":", key);
	json_string(f, value);
}

/* Erases the progress line, before a line of another kind. */
static void clear_progress(const struct jg_report *r)
{
	if (r->progress)
		progress_clear(r->progress);
}

/*
 * A new file beside `path` to write it in, renamed over it once whole:
 * "DIR/.NAME.jg-PID-N.part", made here and now with O_EXCL, so nothing a
 * writer of DIR planted there (a symlink) is followed.
 */
static FILE *open_temp_beside(const char *path, char *temp, size_t len)
{
	const char *slash = strrchr(path, '/');
	int dir_len = slash ? (int)(slash - path + 1) : 0;
	const char *base = slash ? slash + 1 : path;
	for (unsigned n = 0; n < 100; n++) {
		snprintf(temp, len, "%.*s.%s.jg-%ld-%u.part", dir_len, path, base, (long)getpid(), n);
		int fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd >= 0) {
			FILE *f = fdopen(fd, "w");
			if (!f)
				close(fd);
			return f;
		}
		if (errno != EEXIST)
			return NULL;
	}
	return NULL;
}

int jg_report_init(struct jg_report *r, struct progress *progress, int quiet,
                   const char *json_path)
{
	memset(r, 0, sizeof *r);
	r->progress = progress;
	r->quiet = quiet;
	r->started = ev_time();
	r->failures_tail = &r->failures;
	r->notes_tail = &r->notes;
	if (!json_path)
		return 0;
	/* Written beside its final name, renamed when complete. */
	r->json_path = strdup(json_path);
	r->json_temp = malloc(strlen(json_path) + 64);
	if (!r->json_path || !r->json_temp) {
		jg_say(stderr, "juggle: out of memory\n");
		return -1;
	}
	r->json = open_temp_beside(json_path, r->json_temp, strlen(json_path) + 64);
	if (!r->json) {
		jg_say(stderr, "juggle: %s: %s\n", r->json_temp, strerror(errno));
		return -1;
	}
	fprintf(r->json, "{\"juggle\":\"%s\",\"books\":[", jg_version());
	r->json_first = 1;
	return 0;
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

static void json_counts(FILE *f, const struct jg_result *res)
{
	if (!res || !res->counted)
		return;
	fprintf(f, ",\"words\":%" PRIu64 ",\"distinct\":%" PRIu64 ",\"top\":[", res->words,
	        res->distinct);
	for (size_t i = 0; i < res->n_top; i++) {
		fputs(i ? ",[" : "[", f);
		json_string(f, res->top[i].word);
		fprintf(f, ",%" PRIu64 "]", res->top[i].count);
	}
	fputc(']', f);
}

static void json_book(struct jg_report *r, const char *url, const char *file, int ok, long code,
                      uint64_t bytes, unsigned attempts, double elapsed, const char *error,
                      const struct jg_result *res)
{
	if (!r->json)
		return;
	fputs(r->json_first ? "\n" : ",\n", r->json);
	r->json_first = 0;
	fputs("{\"url\":", r->json);
	json_string(r->json, url);
	fputs(",\"file\":", r->json);
	if (file)
		json_string(r->json, file);
	else
		fputs("null", r->json);
	fprintf(r->json, ",\"status\":\"%s\",\"http_code\":%ld,\"bytes\":%" PRIu64
	        ",\"attempts\":%u,\"elapsed\":%.6f,\"error\":",
	        ok ? "ok" : "failed", code, bytes, attempts, elapsed);
	if (ok)
		fputs("null", r->json);
	else
		json_string(r->json, error);
	if (res && res->redirects) {
		fprintf(r->json, ",\"redirects\":%u,\"final_url\":", res->redirects);
		json_string(r->json, res->final_url);
	}
	if (res) {
		json_field(r->json, "sha256", res->sha256);
		json_field(r->json, "content_type", res->content_type);
		json_field(r->json, "charset", res->charset);
		json_field(r->json, "charset_from", res->charset_from);
		json_field(r->json, "charset_note", res->charset_note);
		json_field(r->json, "foreign_file", res->foreign_file);
	}
	if (res && res->reused)
		fputs(",\"reused\":true", r->json);
	json_counts(r->json, res);
	fputc('}', r->json);
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
	json_book(r, text ? text : "", NULL, 0, 0, 0, 0, 0, error, NULL);
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
		remember_notes(r, res);
	} else {
		r->failed++;
		remember_failure(r, res->url, res->error);
	}
	json_book(r, res->url, res->file, ok, res->http_code, res->bytes, res->attempts, res->elapsed,
	          res->error, res);
	if (res->counted && r->per_book)
		print_book_counts(r, res);
}

static void print_summary(struct jg_report *r, double wall, const struct jg_stats *st)
{
	char bytes[32], speed[32], kept[64] = "";
	/* The rate is of what this run saved: kept books cost no transfer. */
	uint64_t moved = r->bytes - r->reused_bytes;
	progress_human_bytes((double)r->bytes, bytes, sizeof bytes);
	progress_human_bytes(wall > 0 ? moved / wall : 0, speed, sizeof speed);
	if (r->reused_bytes) {
		char b[32];
		progress_human_bytes((double)r->reused_bytes, b, sizeof b);
		snprintf(kept, sizeof kept, " (%s already on disk)", b);
	}
	jg_say(stderr, "juggle: %" PRIu64 " ok, %" PRIu64 " failed", r->ok,
	        r->failed + r->input_errors);
	if (r->input_errors)
		jg_say(stderr, " (%" PRIu64 " bad input lines)", r->input_errors);
	if (r->merged_shards)
		jg_say(stderr, "; %s in %u shards\n", bytes, r->merged_shards);
	else
		jg_say(stderr, "; %s%s in %.2f s (%s/s); %" PRIu64 " retries; loop stall max %.1f ms, "
		        "p99 %.1f ms\n", bytes, kept, wall, speed, st->retries, st->stall_max * 1e3,
		        st->stall_p99 * 1e3);
	if (st->engine != JG_ENGINE_LOOP)
		jg_say(stderr, "juggle: %s engine, %u threads started\n", jg_engine_name(st->engine),
		        st->threads);
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

/* This process's own figures; the workers are processes of their own. */
/*
 * The peak RSS of this program itself: getrusage() keeps the peak of the
 * process before its exec too, so a juggle started by a 35 MB Python
 * would report 35 MB; the kernel's VmHWM starts afresh at the exec.
 */
static long peak_rss_kb(const struct rusage *ru)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[128];
	long kb = -1;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb >= 0 ? kb : ru->ru_maxrss;
}

static void json_process(FILE *f)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return;
	fprintf(f, "\"process\":{\"user_seconds\":%.6f,\"sys_seconds\":%.6f,\"max_rss_kb\":%ld,"
	        "\"voluntary_switches\":%ld,\"involuntary_switches\":%ld},",
	        (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
	        (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6, peak_rss_kb(&ru), ru.ru_nvcsw,
	        ru.ru_nivcsw);
}

static int finish_json(struct jg_report *r, double wall, const struct jg_stats *st)
{
	FILE *f = r->json;
	fprintf(f, "\n],\"totals\":{\"urls\":%" PRIu64 ",\"ok\":%" PRIu64 ",\"failed\":%" PRIu64
	        ",\"input_errors\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"retries\":%" PRIu64
	        ",\"wall_seconds\":%.6f,\"bytes_per_second\":%.1f},",
	        r->total, r->ok, r->failed + r->input_errors, r->input_errors, r->bytes, st->retries,
	        wall, wall > 0 ? r->bytes / wall : 0.0);
	if (r->have_counts) {
		fprintf(f, "\"counts\":{\"words\":%" PRIu64 ",\"distinct\":%" PRIu64 ",\"top\":[",
		        r->count_words, r->count_distinct);
		for (size_t i = 0; i < r->n_top; i++) {
			fputs(i ? ",[" : "[", f);
			json_string(f, r->top[i].word);
			fprintf(f, ",%" PRIu64 "]", r->top[i].count);
		}
		fputs("]},", f);
	}
	if (r->merged_shards) {
		/* A merge ran nothing: only where its figures came from. */
		fprintf(f, "\"merged_shards\":%u}\n", r->merged_shards);
	} else {
		fprintf(f, "\"worker_restarts\":%u,", r->worker_restarts);
		fprintf(f, "\"engine\":\"%s\",\"threads\":%u,", jg_engine_name(st->engine),
		        st->threads);
		json_process(f);
		fprintf(f, "\"loop_stall\":{\"max_seconds\":%.6f,\"p99_seconds\":%.6f,"
		        "\"iterations\":%" PRIu64 "}}\n", st->stall_max, st->stall_p99,
		        st->loop_iterations);
	}
	int bad = ferror(f);
	bad |= fclose(f) != 0;
	r->json = NULL;
	if (bad || rename(r->json_temp, r->json_path) < 0) {
		jg_say(stderr, "juggle: %s: %s\n", r->json_path, strerror(errno));
		unlink(r->json_temp);
		return -1;
	}
	return 0;
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

int jg_report_finish(struct jg_report *r, const struct jg_stats *st)
{
	double wall = r->merged_shards ? 0 : ev_time() - r->started;
	if (r->progress)
		progress_end(r->progress);
	if (!r->quiet || r->failed || r->input_errors)
		print_summary(r, wall, st);
	return r->json ? finish_json(r, wall, st) : 0;
}

void jg_report_fini(struct jg_report *r)
{
	if (r->json) {
		fclose(r->json);
		unlink(r->json_temp);
	}
	struct report_line *lists[] = {r->failures, r->notes};
	for (size_t i = 0; i < 2; i++)
		while (lists[i]) {
			struct report_line *l = lists[i];
			lists[i] = l->next;
			free(l);
		}
	free(r->json_path);
	free(r->json_temp);
	for (size_t i = 0; i < r->n_top; i++)
		free((char *)r->top[i].word);
}
