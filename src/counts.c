#include "counts.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

JG_EXPORT struct jg_counts *jg_counts_new(void)
{
	struct jg_counts *c = calloc(1, sizeof *c);
	if (c)
		jg_wc_init(&c->wc);
	return c;
}

JG_EXPORT void jg_counts_free(struct jg_counts *c)
{
	if (!c)
		return;
	jg_wc_fini(&c->wc);
	free(c);
}

JG_EXPORT uint64_t jg_counts_total(const struct jg_counts *c)
{
	return c->wc.total;
}

JG_EXPORT uint64_t jg_counts_distinct(const struct jg_counts *c)
{
	return c->wc.distinct;
}

JG_EXPORT uint64_t jg_counts_get(const struct jg_counts *c, const char *word)
{
	return jg_wc_get(&c->wc, word, strlen(word));
}

JG_EXPORT int jg_counts_merge(struct jg_counts *dst, const struct jg_counts *src)
{
	return jg_wc_merge(&dst->wc, &src->wc) < 0 ? JG_ENOMEM : JG_OK;
}

JG_EXPORT size_t jg_counts_top(const struct jg_counts *c, size_t n, struct jg_word_count *out)
{
	const struct jg_word **top = malloc((n ? n : 1) * sizeof *top);
	if (!top)
		return 0;
	size_t got = jg_wc_top(&c->wc, n, top);
	for (size_t i = 0; i < got; i++) {
		out[i].word = top[i]->word;
		out[i].count = top[i]->count;
	}
	free(top);
	return got;
}

JG_EXPORT int jg_counts_write_tsv(const struct jg_counts *c, const char *path)
{
	size_t n = strlen(path);
	char *temp = malloc(n + 8);
	if (!temp)
		return JG_ENOMEM;
	snprintf(temp, n + 8, "%s.part", path);
	FILE *f = fopen(temp, "w");
	int rc = f ? jg_wc_write_tsv(&c->wc, f) : -1;
	if (f && fclose(f) != 0)
		rc = -1;
	if (rc == 0 && rename(temp, path) < 0)
		rc = -1;
	if (rc < 0)
		unlink(temp);
	free(temp);
	return rc < 0 ? JG_EIO : JG_OK;
}

/*
 * One "word<TAB>count" line. The count follows the last tab, so a word is
 * whatever precedes it; a word never holds a newline (the tokenizers
 * split on white space).
 */
static int parse_line(char *line, size_t len, const char **word, size_t *wlen, uint64_t *count)
{
	char *tab = memrchr(line, '\t', len);
	if (!tab || tab == line || tab + 1 == line + len)
		return -1;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(tab + 1, &end, 10);
	if (errno || end != line + len || tab[1] == '-' || v == 0)
		return -1;
	*word = line;
	*wlen = (size_t)(tab - line);
	*count = v;
	return 0;
}

JG_EXPORT int jg_counts_read_tsv(struct jg_counts *c, const char *path, char *errbuf)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		if (errbuf)
			snprintf(errbuf, JG_ERRBUF_SIZE, "%s: %s", path, strerror(errno));
		return JG_EIO;
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t got;
	unsigned long no = 0;
	int rc = JG_OK;
	while ((got = getline(&line, &cap, f)) > 0) {
		no++;
		size_t len = (size_t)got;
		if (line[len - 1] != '\n') {
			rc = JG_EIO;
			if (errbuf)
				snprintf(errbuf, JG_ERRBUF_SIZE, "%.180s:%lu: the last line is cut short", path, no);
			break;
		}
		const char *word;
		size_t wlen;
		uint64_t count;
		if (parse_line(line, len - 1, &word, &wlen, &count) < 0) {
			rc = JG_EIO;
			if (errbuf)
				snprintf(errbuf, JG_ERRBUF_SIZE, "%.180s:%lu: not a word<TAB>count line", path, no);
			break;
		}
		if (jg_wc_add(&c->wc, word, wlen, jg_wc_hash(word, wlen), count) < 0) {
			rc = JG_ENOMEM;
			if (errbuf)
				snprintf(errbuf, JG_ERRBUF_SIZE, "out of memory");
			break;
		}
	}
	if (rc == JG_OK && ferror(f)) {
		rc = JG_EIO;
		if (errbuf)
			snprintf(errbuf, JG_ERRBUF_SIZE, "%.180s: %s", path, strerror(errno));
	}
	free(line);
	fclose(f);
	return rc;
}
