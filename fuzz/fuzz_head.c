/*
 * libFuzzer target: arbitrary bytes as the header and trailer lines of
 * one attempt, handed to jg_head_line() one line at a time as libcurl
 * hands them (each up to and with its '\n'; the last may lack one). The
 * first byte says how many times each line is repeated, so that short
 * inputs reach the byte cap too.
 *
 * Checked against a model written here: the bytes counted are the bytes
 * given; JG_HEAD_TOO_LONG comes exactly when they pass JG_HEAD_BYTES_MAX;
 * JG_HEAD_END comes once at most, for an empty line after a final
 * (non-1xx) status, and never again; the status is a three-digit code or
 * none; a coding juggle cannot undo leaves its name NUL-terminated with
 * no control byte in it; jg_head_value() gives a value inside the line with
 * no blank or line end around it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "head.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_head: invariant violated: %s\n", what);
		abort();
	}
}

static int blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void check_value(const char *line, size_t len, const char *name)
{
	const char *v;
	size_t vl;
	size_t n = strlen(name);
	int is = jg_head_value(line, len, name, &v, &vl);
	int want = len >= n;
	for (size_t i = 0; want && i < n; i++) {
		char c = line[i] >= 'A' && line[i] <= 'Z' ? (char)(line[i] - 'A' + 'a') : line[i];
		want = c == name[i];
	}
	check(is == want, "value: the header's name misread");
	if (!is)
		return;
	check(v >= line + n && v + vl <= line + len, "value: outside the line");
	check(vl == 0 || (v[0] != ' ' && v[0] != '\t' && !blank(v[vl - 1])),
	      "value: blanks left around it");
	for (const char *p = line + n; p < v; p++)
		check(*p == ' ' || *p == '\t', "value: more than blanks cut in front");
	for (const char *p = v + vl; p < line + len; p++)
		check(blank(*p), "value: more than blanks cut behind");
}

static int is_status_line(const char *line, size_t len)
{
	return len >= 5 && memcmp(line, "HTTP/", 5) == 0;
}

static int is_empty_line(const char *line, size_t len)
{
	return (len == 2 && line[0] == '\r' && line[1] == '\n') || (len == 1 && line[0] == '\n');
}

/* The code after the line's first space: three digits, the first not 0,
 * no fourth; or -1. */
static long status_model(const char *line, size_t len)
{
	const char *sp = memchr(line, ' ', len);
	if (!sp)
		return -1;
	size_t d = 0;
	while (sp + 1 + d < line + len && sp[1 + d] >= '0' && sp[1 + d] <= '9')
		d++;
	if (d != 3 || sp[1] == '0')
		return -1;
	return (sp[1] - '0') * 100 + (sp[2] - '0') * 10 + (sp[3] - '0');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t repeat = 1 + (size_t)data[0] * 16;
	const char *text = (const char *)data + 1;
	size_t left = size - 1;
	struct jg_head h;
	jg_head_init(&h);
	uint64_t given = 0;
	int ended = 0, too_long = 0;
	long status = 0;
	while (left && !too_long) {
		const char *nl = memchr(text, '\n', left);
		size_t len = nl ? (size_t)(nl - text) + 1 : left;
		check_value(text, len, "location:");
		for (size_t r = 0; r < repeat && !too_long; r++) {
			int was_ended = ended;
			if (!ended && is_status_line(text, len))
				status = status_model(text, len);
			enum jg_head_event e = jg_head_line(&h, text, len);
			given += len;
			check(h.bytes == given, "the bytes counted are not the bytes given");
			if (given > JG_HEAD_BYTES_MAX) {
				check(e == JG_HEAD_TOO_LONG, "past the cap, but not too long");
				too_long = 1;
				break;
			}
			check(e != JG_HEAD_TOO_LONG, "too long under the cap");
			int final_end = !was_ended && is_empty_line(text, len) &&
			                !(status >= 100 && status <= 199);
			check((e == JG_HEAD_END) == final_end, "the end of the head misjudged");
			if (e == JG_HEAD_END)
				ended = 1;
			check(h.ended == ended, "ended is not what was seen");
			check(h.status == status, "another status than the line's");
			check(h.status == 0 || h.status == -1 || (h.status >= 100 && h.status <= 999),
			      "a status that is not three digits");
			check(h.coding >= JG_CODING_IDENTITY && h.coding <= JG_CODING_ZSTD,
			      "a coding out of range");
			if (h.bad_coding) {
				check(memchr(h.coding_name, '\0', sizeof h.coding_name) != NULL,
				      "the coding's name is not NUL-terminated");
				for (const char *p = h.coding_name; *p; p++)
					check((unsigned char)*p >= 0x20 && *p != 0x7f,
					      "a control byte in the coding's name");
			}
		}
		text += len;
		left -= len;
	}
	return 0;
}
