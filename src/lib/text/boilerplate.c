#include "boilerplate.h"

#include <string.h>
#include <strings.h>

enum marker { NOT_A_MARKER, START_MARKER, END_MARKER };

/* Takes `word` (any letter case) from *p when it is there. */
static int take(const char **p, const char *end, const char *word)
{
	size_t n = strlen(word);
	if ((size_t)(end - *p) < n || strncasecmp(*p, word, n) != 0)
		return 0;
	*p += n;
	return 1;
}

static void skip_blanks(const char **p, const char *end)
{
	while (*p < end && (**p == ' ' || **p == '\t'))
		(*p)++;
}

/* After "START OF " or "END OF ": the rest of a "***" marker. */
static int gutenberg_named(const char *p, const char *end)
{
	if (take(&p, end, "THE COPYRIGHTED PROJECT GUTENBERG"))
		return 1;
	return (take(&p, end, "THE ") || take(&p, end, "THIS ")) && take(&p, end, "PROJECT GUTENBERG");
}

static enum marker classify(const char *p, const char *end)
{
	skip_blanks(&p, end);
	if (take(&p, end, "***")) {
		skip_blanks(&p, end);
		if (take(&p, end, "START OF "))
			return gutenberg_named(p, end) ? START_MARKER : NOT_A_MARKER;
		if (take(&p, end, "END OF "))
			return gutenberg_named(p, end) ? END_MARKER : NOT_A_MARKER;
		return NOT_A_MARKER;
	}
	if (take(&p, end, "*END")) {
		take(&p, end, "*");
		skip_blanks(&p, end);
		return take(&p, end, "THE SMALL PRINT") ? START_MARKER : NOT_A_MARKER;
	}
	if (take(&p, end, "End of ")) {
		if (!take(&p, end, "the "))
			take(&p, end, "this ");
		return take(&p, end, "Project Gutenberg") ? END_MARKER : NOT_A_MARKER;
	}
	return NOT_A_MARKER;
}

void jg_text_strip_boilerplate(const char *text, size_t len, size_t *start, size_t *end)
{
	const char *p = text + *start, *stop = text + *end;
	size_t body = *start;
	while (p < stop) {
		const char *nl = memchr(p, '\n', (size_t)(stop - p));
		const char *next = nl ? nl + 1 : stop;
		/* Only lines that can begin a marker are looked at closely. */
		const char *q = p;
		skip_blanks(&q, next);
		if (q < next && (*q == '*' || *q == 'E' || *q == 'e')) {
			enum marker m = classify(p, next);
			if (m == END_MARKER) {
				*start = body;
				*end = (size_t)(p - text);
				return;
			}
			if (m == START_MARKER)
				body = (size_t)(next - text);
		}
		p = next;
	}
	*start = body;
	(void)len;
}
