#include "json.h"
#include "say.h"

#include "grow.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* A JSON string that strict parsers take: UTF-8 always (a byte that is
 * not part of a well-formed sequence becomes U+FFFD), controls escaped. */
static void json_string(FILE *f, const char *s)
{
	char *masked = jg_mask_secrets(s ? s : ""); /* no password in a report */
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)(masked ? masked : ""); *p; p++) {
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
	free(masked);
}

static void json_field(FILE *f, const char *key, const char *value)
{
	if (!value)
		return;
	fprintf(f, ",\"%s\":", key);
	json_string(f, value);
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

/*
 * Books are reported as they end, but listed in input order: each entry
 * goes to a scratch file as it comes, with its place and extent noted
 * (24 bytes a book, not the entry itself), and the report is assembled
 * in order at the end.
 */
static int note_entry(struct json_report *j, uint64_t key, long off, long end)
{
	if (off < 0 || end < 0 || ferror(j->scratch))
		return -1;
	if (jg_grow(&j->entries, &j->cap, j->n, sizeof *j->entries, 1024) < 0)
		return -1;
	j->entries[j->n++] = (struct json_entry){key, off, (size_t)(end - off)};
	return 0;
}

void json_report_book(struct json_report *j, const struct jg_result *res,
                      const struct json_origin *from)
{
	if (!j->out.f || j->failed)
		return;
	FILE *f = j->scratch;
	long off = ftell(f);
	int ok = res->err == JG_OK;
	const char *status = ok ? "ok" : res->err == JG_ECANCELED ? "cancelled" : "failed";
	uint64_t key = from ? from->index : j->arrived;
	j->arrived++;
	fputc('{', f);
	if (from) {
		fprintf(f, "\"index\":%" PRIu64 ",", from->index);
		if (from->list) {
			fputs("\"list\":", f);
			json_string(f, from->list);
			fprintf(f, ",\"line\":%lu,", from->line);
		}
	}
	fputs("\"url\":", f);
	json_string(f, res->url);
	fputs(",\"file\":", f);
	if (ok && res->file)
		json_string(f, res->file);
	else
		fputs("null", f);
	fprintf(f, ",\"status\":\"%s\",\"http_code\":%ld,\"bytes\":%" PRIu64
	        ",\"attempts\":%u,\"elapsed\":%.6f,\"error\":", status, res->http_code,
	        ok ? res->bytes : 0, res->attempts, res->elapsed);
	if (ok) {
		fputs("null", f);
	} else {
		json_string(f, res->error);
		fprintf(f, ",\"error_kind\":\"%s\"", jg_err_name(res->err));
	}
	if (res->redirects)
		fprintf(f, ",\"redirects\":%u", res->redirects);
	/* Where it came from, when not its URL: a redirect's end, or the
	 * mirror that had the book when its own did not. */
	if (res->final_url && strcmp(res->final_url, res->url) != 0) {
		fputs(",\"final_url\":", f);
		json_string(f, res->final_url);
	}
	json_field(f, "sha256", res->sha256);
	json_field(f, "content_type", res->content_type);
	json_field(f, "charset", res->charset);
	json_field(f, "charset_from", res->charset_from);
	json_field(f, "charset_note", res->charset_note);
	json_field(f, "foreign_file", res->foreign_file);
	if (res->reused)
		fputs(",\"reused\":true", f);
	if (res && res->continued_from)
		fprintf(f, ",\"continued_from\":%" PRIu64, res->continued_from);
	json_counts(f, res);
	fputc('}', f);
	if (note_entry(j, key, off, ftell(f)) < 0)
		j->failed = 1;
}

/* Input errors sort after every book: their keys start here. */
#define INPUT_ERROR_KEYS (UINT64_C(1) << 63)

void json_report_input_error(struct json_report *j, const char *source, unsigned long line,
                             const char *text, const char *why)
{
	if (!j->out.f || j->failed)
		return;
	FILE *f = j->scratch;
	long off = ftell(f);
	fputs("{\"list\":", f);
	json_string(f, source);
	fprintf(f, ",\"line\":%lu,\"url\":", line);
	json_string(f, text ? text : "");
	fputs(",\"file\":null,\"status\":\"failed\",\"error\":", f);
	json_string(f, why);
	fputs(",\"error_kind\":\"input\"}", f);
	if (note_entry(j, INPUT_ERROR_KEYS + j->arrived++, off, ftell(f)) < 0)
		j->failed = 1;
}

static int by_key(const void *a, const void *b)
{
	const struct json_entry *x = a, *y = b;
	return x->key < y->key ? -1 : x->key > y->key;
}

/* The books, in order, from the scratch file into the report. */
static int copy_books(struct json_report *j)
{
	if (j->failed || fflush(j->scratch) != 0)
		return -1;
	qsort(j->entries, j->n, sizeof *j->entries, by_key);
	char buf[65536];
	int fd = fileno(j->scratch);
	for (size_t i = 0; i < j->n; i++) {
		fputs(i ? ",\n" : "\n", j->out.f);
		for (size_t done = 0; done < j->entries[i].len;) {
			size_t want = j->entries[i].len - done;
			ssize_t n = pread(fd, buf, want < sizeof buf ? want : sizeof buf,
			                  j->entries[i].off + (off_t)done);
			if (n <= 0)
				return -1;
			fwrite(buf, 1, (size_t)n, j->out.f);
			done += (size_t)n;
		}
	}
	return 0;
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

/* "options": the settings that shape results, defaults included. */
static void json_options(FILE *f, const struct jg_settings *o)
{
	if (!o)
		return;
	fprintf(f, "\"options\":{\"jobs\":%u,\"per_host\":%u,\"wait\":%g,\"random_wait\":%s,"
	        "\"limit_rate\":%" PRIu64 ",\"retries\":%u,\"retry_delay\":%g,"
	        "\"connect_timeout\":%g,\"stall_timeout\":%g,\"max_size\":%" PRIu64
	        ",\"max_redirects\":%u,\"count\":%s,\"split\":\"%s\",\"keep_boilerplate\":%s,"
	        "\"top\":%u,\"engine\":\"%s\",\"mirrors\":[",
	        o->jobs, o->per_host, o->wait, o->random_wait ? "true" : "false", o->limit_rate,
	        o->retries, o->retry_delay, o->connect_timeout, o->stall_timeout, o->max_size,
	        o->max_redirects, o->count_flags & JG_COUNT_OFF ? "false" : "true",
	        o->count_flags & JG_COUNT_WHITESPACE ? "whitespace" : "words",
	        o->count_flags & JG_COUNT_KEEP_BOILERPLATE ? "true" : "false", o->top,
	        jg_engine_name(o->engine));
	for (size_t i = 0; i < o->n_mirrors; i++) {
		if (i)
			fputc(',', f);
		json_string(f, o->mirrors[i]);
	}
	fputs("],\"user_agent\":", f);
	if (o->user_agent)
		json_string(f, o->user_agent);
	else
		fputs("null", f);
	fputs("},", f);
}

/* "hosts": what the run asked of each server. */
static void json_hosts(FILE *f, const struct jg_host_stats *h, size_t n)
{
	fputs("\"hosts\":[", f);
	for (size_t i = 0; i < n; i++) {
		fputs(i ? ",{\"host\":" : "{\"host\":", f);
		json_string(f, h[i].name);
		fprintf(f, ",\"requests\":%" PRIu64 ",\"ok\":%" PRIu64 ",\"failed\":%" PRIu64
		        ",\"bytes\":%" PRIu64 ",\"waited_seconds\":%.3f,\"concurrency_max\":%u"
		        ",\"limit\":%u,\"robots\":", h[i].requests, h[i].ok, h[i].failed, h[i].bytes,
		        h[i].waited, h[i].concurrency_max, h[i].limit);
		json_string(f, h[i].robots);
		fputc('}', f);
	}
	fputs("],", f);
}

int json_report_finish(struct json_report *j, const struct json_totals *t,
                       const struct json_run *run, unsigned merged_shards)
{
	FILE *f = j->out.f;
	if (!f)
		return 0;
	if (copy_books(j) < 0) {
		jg_say(stderr, "juggle: --json: the books' scratch file: %s\n", strerror(errno));
		return -1;
	}
	fprintf(f, "\n],\"totals\":{\"urls\":%" PRIu64 ",\"ok\":%" PRIu64 ",\"failed\":%" PRIu64
	        ",\"cancelled\":%" PRIu64 ",\"input_errors\":%" PRIu64 ",\"bytes\":%" PRIu64
	        ",\"retries\":%" PRIu64 ",\"wall_seconds\":%.6f,\"bytes_per_second\":%.1f},",
	        t->urls, t->ok, t->failed, t->cancelled, t->input_errors, t->bytes,
	        run ? run->retries : 0,
	        run ? run->wall : 0.0, run && run->wall > 0 ? (t->bytes - t->reused_bytes) / run->wall : 0.0);
	if (t->have_counts) {
		fprintf(f, "\"counts\":{\"words\":%" PRIu64 ",\"distinct\":%" PRIu64 ",\"top\":[",
		        t->words, t->distinct);
		for (size_t i = 0; i < t->n_top; i++) {
			fputs(i ? ",[" : "[", f);
			json_string(f, t->top[i].word);
			fprintf(f, ",%" PRIu64 "]", t->top[i].count);
		}
		fputs("]},", f);
	}
	if (!run) {
		/* A merge ran nothing: only where its figures came from. */
		fprintf(f, "\"merged_shards\":%u}\n", merged_shards);
	} else {
		fprintf(f, "\"worker_restarts\":%u,", run->worker_restarts);
		fprintf(f, "\"engine\":\"%s\",\"threads\":%u,", jg_engine_name(run->engine),
		        run->threads);
		json_process(f);
		json_options(f, run->settings);
		json_hosts(f, run->hosts, run->n_hosts);
		fprintf(f, "\"loop_stall\":{\"max_seconds\":%.6f,\"p99_seconds\":%.6f,"
		        "\"iterations\":%" PRIu64 "}}\n", run->stall_max, run->stall_p99,
		        run->loop_iterations);
	}
	return outfile_commit(&j->out);
}

int json_report_open(struct json_report *j, const char *path)
{
	memset(j, 0, sizeof *j);
	if (outfile_open(&j->out, "--json", path) < 0)
		return -1;
	if (!j->out.f)
		return 0;
	/* Unlinked at once: nothing of it stays, however the run ends. */
	if (!(j->scratch = tmpfile())) {
		jg_say(stderr, "juggle: --json: cannot make a scratch file: %s\n", strerror(errno));
		return -1;
	}
	fprintf(j->out.f, "{\"juggle\":\"%s\",\"books\":[", jg_version());
	return 0;
}

void json_report_close(struct json_report *j)
{
	outfile_close(&j->out);
	if (j->scratch)
		fclose(j->scratch);
	free(j->entries);
	memset(j, 0, sizeof *j);
}
