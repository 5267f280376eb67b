#include "report.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* At most this many failures are listed in the summary. */
enum { SUMMARY_FAILURES = 20 };

struct report_failure {
	struct report_failure *next;
	char text[];
};

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
			if (*p < 0x20)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
}

static void human_bytes(double b, char *out, size_t len)
{
	const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	int i = 0;
	while (b >= 1024 && i < 4) {
		b /= 1024;
		i++;
	}
	snprintf(out, len, i ? "%.1f %s" : "%.0f %s", b, unit[i]);
}

static void on_progress(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct jg_report *r = w->data;
	struct jg_stats st;
	jg_session_stats(r->session, &st);
	double elapsed = ev_time() - r->started;
	double rate = elapsed > 0 ? st.bytes / elapsed : 0;
	uint64_t done = st.ok + st.failed;
	char bytes[32], speed[32], eta[32] = "--:--";
	human_bytes((double)st.bytes, bytes, sizeof bytes);
	human_bytes(rate, speed, sizeof speed);
	if (done > 0 && done < r->total) {
		double left = elapsed / (double)done * (double)(r->total - done);
		snprintf(eta, sizeof eta, "%d:%02d", (int)(left / 60), (int)left % 60);
	}
	fprintf(stderr, "\r\033[K[%" PRIu64 "/%" PRIu64 "] %s  %s/s  ETA %s  %" PRIu64
	        " active%s%" PRIu64 " failed",
	        done, r->total, bytes, speed, eta, st.active, ", ", st.failed);
	fflush(stderr);
}

int jg_report_init(struct jg_report *r, struct ev_loop *loop, int quiet, const char *json_path)
{
	memset(r, 0, sizeof *r);
	r->loop = loop;
	r->quiet = quiet;
	r->started = ev_time();
	r->failures_tail = &r->failures;
	r->show_progress = !quiet && isatty(STDERR_FILENO);
	if (!json_path)
		return 0;
	/* Written beside its final name, renamed when complete. */
	r->json_path = strdup(json_path);
	r->json_temp = malloc(strlen(json_path) + 16);
	if (!r->json_path || !r->json_temp) {
		fprintf(stderr, "juggle: out of memory\n");
		return -1;
	}
	sprintf(r->json_temp, "%s.part", json_path);
	r->json = fopen(r->json_temp, "w");
	if (!r->json) {
		fprintf(stderr, "juggle: %s: %s\n", r->json_temp, strerror(errno));
		return -1;
	}
	fprintf(r->json, "{\"juggle\":\"%s\",\"books\":[", jg_version());
	r->json_first = 1;
	return 0;
}

void jg_report_attach(struct jg_report *r, struct jg_session *s, uint64_t total)
{
	r->session = s;
	r->total = total;
	r->per_book = !r->quiet && total <= 50;
	if (!r->show_progress)
		return;
	ev_timer_init(&r->progress, on_progress, 0.2, 0.2);
	r->progress.data = r;
	ev_timer_start(r->loop, &r->progress);
	ev_unref(r->loop); /* progress alone must not keep the loop running */
}

static void remember_failure(struct jg_report *r, const char *url, const char *why)
{
	r->n_failures++;
	if (r->n_failures > SUMMARY_FAILURES)
		return;
	size_t n = strlen(url) + strlen(why) + 3;
	struct report_failure *f = malloc(sizeof *f + n);
	if (!f)
		return;
	snprintf(f->text, n, "%s: %s", url, why);
	f->next = NULL;
	*r->failures_tail = f;
	r->failures_tail = &f->next;
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
	if (res && res->sha256) {
		fputs(",\"sha256\":", r->json);
		json_string(r->json, res->sha256);
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
	fprintf(stderr, "%sjuggle: %s: %s\n", r->show_progress ? "\r\033[K" : "", where, why);
	r->input_errors++;
	char error[700];
	snprintf(error, sizeof error, "%s:%lu: %s", source, line, why);
	json_book(r, text ? text : "", NULL, 0, 0, 0, 0, 0, error, NULL);
}

/* One line per counted book, when the run is small enough to read. */
static void print_book_counts(struct jg_report *r, const struct jg_result *res)
{
	const char *name = res->file ? strrchr(res->file, '/') : NULL;
	fprintf(stderr, "%s%s: %" PRIu64 " words, %" PRIu64 " distinct;",
	        r->show_progress ? "\r\033[K" : "", name ? name + 1 : res->url, res->words,
	        res->distinct);
	for (size_t i = 0; i < res->n_top; i++)
		fprintf(stderr, " %s %" PRIu64, res->top[i].word, res->top[i].count);
	fputc('\n', stderr);
}

void jg_report_book(struct jg_report *r, const struct jg_result *res)
{
	int ok = res->err == 0;
	if (ok) {
		r->ok++;
		r->bytes += res->bytes;
		if (res->reused)
			r->reused_bytes += res->bytes;
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
	human_bytes((double)r->bytes, bytes, sizeof bytes);
	human_bytes(wall > 0 ? moved / wall : 0, speed, sizeof speed);
	if (r->reused_bytes) {
		char b[32];
		human_bytes((double)r->reused_bytes, b, sizeof b);
		snprintf(kept, sizeof kept, " (%s already on disk)", b);
	}
	fprintf(stderr, "juggle: %" PRIu64 " ok, %" PRIu64 " failed", r->ok,
	        r->failed + r->input_errors);
	if (r->input_errors)
		fprintf(stderr, " (%" PRIu64 " bad input lines)", r->input_errors);
	if (r->merged_shards)
		fprintf(stderr, "; %s in %u shards\n", bytes, r->merged_shards);
	else
		fprintf(stderr, "; %s%s in %.2f s (%s/s); %" PRIu64 " retries; loop stall max %.1f ms, "
		        "p99 %.1f ms\n", bytes, kept, wall, speed, st->retries, st->stall_max * 1e3,
		        st->stall_p99 * 1e3);
	if (st->engine != JG_ENGINE_LOOP)
		fprintf(stderr, "juggle: %s engine, %u threads started\n", jg_engine_name(st->engine),
		        st->threads);
	for (struct report_failure *f = r->failures; f; f = f->next)
		fprintf(stderr, "  FAILED %s\n", f->text);
	if (r->n_failures > SUMMARY_FAILURES)
		fprintf(stderr, "  ... and %" PRIu64 " more failures\n", r->n_failures - SUMMARY_FAILURES);
}

/* This process's own figures; the workers are processes of their own. */
static void json_process(FILE *f)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return;
	fprintf(f, "\"process\":{\"user_seconds\":%.6f,\"sys_seconds\":%.6f,\"max_rss_kb\":%ld,"
	        "\"voluntary_switches\":%ld,\"involuntary_switches\":%ld},",
	        (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
	        (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6, ru.ru_maxrss, ru.ru_nvcsw,
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
		fprintf(stderr, "juggle: %s: %s\n", r->json_path, strerror(errno));
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
	fprintf(stderr, "juggle: %" PRIu64 " words, %" PRIu64 " distinct; top %zu:", r->count_words,
	        r->count_distinct, r->n_top);
	for (size_t i = 0; i < r->n_top; i++)
		fprintf(stderr, " %s %" PRIu64, r->top[i].word, r->top[i].count);
	fputc('\n', stderr);
}

int jg_report_finish(struct jg_report *r, const struct jg_stats *st)
{
	double wall = r->merged_shards ? 0 : ev_time() - r->started;
	if (r->show_progress) {
		ev_ref(r->loop);
		ev_timer_stop(r->loop, &r->progress);
		r->show_progress = 0;
		fputs("\r\033[K", stderr);
	}
	if (!r->quiet || r->failed || r->input_errors)
		print_summary(r, wall, st);
	return r->json ? finish_json(r, wall, st) : 0;
}

void jg_report_fini(struct jg_report *r)
{
	if (r->show_progress) {
		ev_ref(r->loop);
		ev_timer_stop(r->loop, &r->progress);
	}
	if (r->json) {
		fclose(r->json);
		unlink(r->json_temp);
	}
	while (r->failures) {
		struct report_failure *f = r->failures;
		r->failures = f->next;
		free(f);
	}
	free(r->json_path);
	free(r->json_temp);
	for (size_t i = 0; i < r->n_top; i++)
		free((char *)r->top[i].word);
}
