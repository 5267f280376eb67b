#include "json.h"
#include "say.h"

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

void json_report_book(struct json_report *j, const char *url, const char *file, int ok,
                      long code, uint64_t bytes, unsigned attempts, double elapsed,
                      const char *error, const struct jg_result *res)
{
	if (!j->out.f)
		return;
	FILE *f = j->out.f;
	fputs(j->first ? "\n" : ",\n", f);
	j->first = 0;
	fputs("{\"url\":", f);
	json_string(f, url);
	fputs(",\"file\":", f);
	if (file)
		json_string(f, file);
	else
		fputs("null", f);
	fprintf(f, ",\"status\":\"%s\",\"http_code\":%ld,\"bytes\":%" PRIu64
	        ",\"attempts\":%u,\"elapsed\":%.6f,\"error\":",
	        ok ? "ok" : res && res->err == JG_ECANCELED ? "cancelled" : "failed", code, bytes,
	        attempts, elapsed);
	if (ok)
		fputs("null", f);
	else
		json_string(f, error);
	if (res && res->redirects)
		fprintf(f, ",\"redirects\":%u", res->redirects);
	/* Where it came from, when not its URL: a redirect's end, or the
	 * mirror that had the book when its own did not. */
	if (res && res->final_url && strcmp(res->final_url, url) != 0) {
		fputs(",\"final_url\":", f);
		json_string(f, res->final_url);
	}
	if (res) {
		json_field(f, "sha256", res->sha256);
		json_field(f, "content_type", res->content_type);
		json_field(f, "charset", res->charset);
		json_field(f, "charset_from", res->charset_from);
		json_field(f, "charset_note", res->charset_note);
		json_field(f, "foreign_file", res->foreign_file);
	}
	if (res && res->reused)
		fputs(",\"reused\":true", f);
	json_counts(f, res);
	fputc('}', f);
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
	fprintf(j->out.f, "{\"juggle\":\"%s\",\"books\":[", jg_version());
	j->first = 1;
	return 0;
}

void json_report_close(struct json_report *j)
{
	outfile_close(&j->out);
	memset(j, 0, sizeof *j);
}
