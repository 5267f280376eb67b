#include "input.h"
#include "say.h"

#include "juggle.h"

#include <string.h>

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

char *jg_input_trim(char *s)
{
	while (is_space(*s))
		s++;
	size_t n = strlen(s);
	while (n > 0 && is_space(s[n - 1]))
		s[--n] = '\0';
	return s;
}

static void take_line(char *buf, size_t len, int has_nul, const char *source, unsigned long line,
                      const struct jg_input_sink *sink)
{
	buf[len] = '\0';
	/* A list saved by an editor that writes a byte order mark: the mark
	 * is no part of the first URL. */
	if (line == 1 && len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
		buf += 3;
	char *text = jg_input_trim(buf);
	if (*text == '\0' || *text == '#')
		return;
	if (has_nul) {
		sink->error(sink->ctx, source, line, "line contains a NUL byte");
		return;
	}
	/* "URL<TAB>NAME": a URL never holds a raw tab, so the first one ends it. */
	char *tab = strchr(text, '\t'), *name = NULL;
	if (tab) {
		*tab = '\0';
		text = jg_input_trim(text);
		name = jg_input_trim(tab + 1);
	}
	sink->url(sink->ctx, source, line, text, name);
}

/*
 * Reads byte by byte into a fixed buffer rather than with getline(), so a
 * hostile list with a gigabyte-long line costs 8 KiB, not a gigabyte.
 */
unsigned long jg_input_read(FILE *fp, const char *source, const struct jg_input_sink *sink)
{
	char buf[JG_URL_MAX + 2];
	size_t len = 0;
	unsigned long line = 0;
	int too_long = 0, has_nul = 0, c;
	while ((c = getc_unlocked(fp)) != EOF) {
		if (c == '\n') {
			line++;
			if (too_long)
				sink->error(sink->ctx, source, line, "line longer than 8 KiB");
			else
				take_line(buf, len, has_nul, source, line, sink);
			len = 0;
			too_long = has_nul = 0;
			continue;
		}
		if (c == '\0')
			has_nul = 1;
		if (len < JG_URL_MAX + 1)
			buf[len++] = (char)c;
		else
			too_long = 1;
	}
	if (len > 0 || too_long) {
		line++;
		if (too_long)
			sink->error(sink->ctx, source, line, "line longer than 8 KiB");
		else
			take_line(buf, len, has_nul, source, line, sink);
	}
	return line;
}
