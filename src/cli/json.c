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
	if (!j->f)
		return;
	FILE *f = j->f;
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
	        ok ? "ok" : "failed", code, bytes, attempts, elapsed);
	if (ok)
		fputs("null", f);
	else
		json_string(f, error);
	if (res && res->redirects) {
		fprintf(f, ",\"redirects\":%u,\"final_url\":", res->redirects);
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
	if (res && res->continued_from)
		fprintf(f, ",\"continued_from\":%" PRIu64, res->continued_from);
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

int json_report_finish(struct json_report *j, const struct json_totals *t,
                       const struct json_run *run, unsigned merged_shards)
{
	FILE *f = j->f;
	if (!f)
		return 0;
	fprintf(f, "\n],\"totals\":{\"urls\":%" PRIu64 ",\"ok\":%" PRIu64 ",\"failed\":%" PRIu64
	        ",\"input_errors\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"retries\":%" PRIu64
	        ",\"wall_seconds\":%.6f,\"bytes_per_second\":%.1f},",
	        t->urls, t->ok, t->failed, t->input_errors, t->bytes, run ? run->retries : 0,
	        run ? run->wall : 0.0, run && run->wall > 0 ? t->bytes / run->wall : 0.0);
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
		fprintf(f, "\"loop_stall\":{\"max_seconds\":%.6f,\"p99_seconds\":%.6f,"
		        "\"iterations\":%" PRIu64 "}}\n", run->stall_max, run->stall_p99,
		        run->loop_iterations);
	}
	int bad = ferror(f);
	bad |= fclose(f) != 0;
	j->f = NULL;
	if (bad || rename(j->temp, j->path) < 0) {
		jg_say(stderr, "juggle: %s: %s\n", j->path, strerror(errno));
		unlink(j->temp);
		return -1;
	}
	return 0;
}

int json_report_open(struct json_report *j, const char *path)
{
	memset(j, 0, sizeof *j);
	if (!path)
		return 0;
	j->path = strdup(path);
	j->temp = malloc(strlen(path) + 64);
	if (!j->path || !j->temp) {
		jg_say(stderr, "juggle: out of memory\n");
		return -1;
	}
	j->f = open_temp_beside(path, j->temp, strlen(path) + 64);
	if (!j->f) {
		jg_say(stderr, "juggle: %s: %s\n", j->temp, strerror(errno));
		return -1;
	}
	fprintf(j->f, "{\"juggle\":\"%s\",\"books\":[", jg_version());
	j->first = 1;
	return 0;
}

void json_report_close(struct json_report *j)
{
	if (j->f) {
		fclose(j->f);
		unlink(j->temp);
	}
	free(j->path);
	free(j->temp);
	memset(j, 0, sizeof *j);
}
