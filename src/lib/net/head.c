#include "head.h"

#include <string.h>
#include <strings.h>

void jg_head_init(struct jg_head *h)
{
	memset(h, 0, sizeof *h);
}

/* "HTTP/1.1 200 OK", "HTTP/2 404": the status (three digits, the first
 * not 0, RFC 9110 section 15), or -1 if none. */
static long status_of(const char *line, size_t len)
{
	const char *p = memchr(line, ' ', len);
	if (!p)
		return -1;
	long code = 0;
	int digits = 0;
	for (p++; p < line + len && *p >= '0' && *p <= '9' && digits < 4; p++, digits++)
		code = code * 10 + (*p - '0');
	return digits == 3 && code >= 100 ? code : -1;
}

int jg_head_value(const char *line, size_t len, const char *name, const char **value,
                  size_t *value_len)
{
	size_t n = strlen(name);
	if (len < n || strncasecmp(line, name, n) != 0)
		return 0;
	const char *v = line + n, *end = line + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*value = v;
	*value_len = (size_t)(end - v);
	return 1;
}

static void take_coding(struct jg_head *h, const char *value, size_t len)
{
	if (jg_coding_parse(value, len, &h->coding) == 0) {
		h->bad_coding = 0;
		return;
	}
	h->bad_coding = 1;
	/* The name goes into messages and the journal: control bytes (a NUL,
	 * a lone CR) become '?' here, whatever prints it later. */
	size_t n = len < sizeof h->coding_name - 1 ? len : sizeof h->coding_name - 1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)value[i];
		h->coding_name[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	h->coding_name[n] = '\0';
}

enum jg_head_event jg_head_line(struct jg_head *h, const char *line, size_t len)
{
	h->bytes += len;
	if (h->bytes > JG_HEAD_BYTES_MAX)
		return JG_HEAD_TOO_LONG;
	if (h->ended)
		return JG_HEAD_LINE; /* a trailer */
	if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {
		/* Each response of the attempt (a 1xx, then the last) on its own. */
		h->status = status_of(line, len);
		h->coding = JG_CODING_IDENTITY;
		h->bad_coding = 0;
		return JG_HEAD_LINE;
	}
	if ((len == 2 && line[0] == '\r' && line[1] == '\n') || (len == 1 && line[0] == '\n')) {
		if (h->status >= 100 && h->status <= 199)
			return JG_HEAD_LINE; /* an interim response; the next one counts */
		h->ended = 1;
		return JG_HEAD_END;
	}
	const char *value;
	size_t value_len;
	if (jg_head_value(line, len, "content-encoding:", &value, &value_len))
		take_coding(h, value, value_len);
	return JG_HEAD_LINE;
}
