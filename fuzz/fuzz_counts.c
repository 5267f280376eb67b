/*
 * libFuzzer target: arbitrary bytes as a counts TSV file, the
 * "word<TAB>count" table that `--counts` and every seal's snapshot are
 * written in, and that `juggle merge` and a resumed run read back with
 * jg_counts_read_tsv. It must read the lines before the first one that is
 * not "word<TAB>count" (a count from 1 to 2^64-1 after the last tab; a
 * last line cut short counts as bad), refuse the file with a reason iff
 * there is one, and hold their sum as its total. What it read is written
 * out with jg_counts_write_tsv and read back: that file must read whole,
 * with the same total, the same number of distinct words and every
 * word's count. The top k (k = 1, 2, 3, 10, 64 and all) must be sorted
 * (count descending, then word ascending), agree with jg_counts_get and
 * be the first k lines of the file written.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "counts.h"
#include "juggle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];       /* created once per process */
static char in_path[96];   /* the input */
static char out_path[96];  /* what jg_counts_write_tsv wrote */

static void remove_dir(void)
{
	char part[128];
	snprintf(part, sizeof part, "%s.part", out_path);
	unlink(part);
	unlink(in_path);
	unlink(out_path);
	rmdir(dir);
}

static void make_dir(void)
{
	if (dir[0])
		return;
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(dir, sizeof dir, "%s/jg-fuzz-counts-XXXXXX", base);
	if (!mkdtemp(dir)) {
		perror(dir);
		abort();
	}
	snprintf(in_path, sizeof in_path, "%s/in.tsv", dir);
	snprintf(out_path, sizeof out_path, "%s/out.tsv", dir);
	atexit(remove_dir);
}

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_counts: invariant violated: %s\n", what);
		abort();
	}
}

/* The top `k` against jg_counts_get and the first lines of `f`. */
static void check_top(const struct jg_counts *c, size_t k, FILE *f)
{
	struct jg_word_count *top = malloc((k ? k : 1) * sizeof *top);
	if (!top)
		abort();
	size_t got = jg_counts_top(c, k, top);
	uint64_t distinct = jg_counts_distinct(c);
	check(got == (k < distinct ? k : distinct), "top: not as many words as asked");
	char *line = NULL;
	size_t cap = 0;
	rewind(f);
	for (size_t i = 0; i < got; i++) {
		check(top[i].count > 0, "top: a zero count");
		if (i > 0) {
			check(top[i - 1].count >= top[i].count, "top: counts not descending");
			check(top[i - 1].count > top[i].count || strcmp(top[i - 1].word, top[i].word) <= 0,
			      "top: words of one count not ascending");
		}
		ssize_t n = getline(&line, &cap, f);
		check(n > 0 && line[n - 1] == '\n', "top: the file written is shorter");
		char *tab = memrchr(line, '\t', (size_t)n);
		check(tab != NULL && strtoull(tab + 1, NULL, 10) == top[i].count,
		      "top: not the count of the file's line");
		size_t wl = (size_t)(tab - line);
		if (!memchr(line, '\0', wl)) { /* else jg_counts_get cannot ask for it */
			check(strlen(top[i].word) == wl && memcmp(line, top[i].word, wl) == 0,
			      "top: not the word of the file's line");
			check(jg_counts_get(c, top[i].word) == top[i].count,
			      "top: not the count jg_counts_get gives");
		}
	}
	free(line);
	free(top);
}

/*
 * The lines jg_counts_read_tsv should take, read here on their own: each
 * ends in '\n', and after its last tab (not its first byte) comes a
 * count of ASCII digits only, in range and not 0; and the counts add up
 * to at most 2^64-1 (past that the reader refuses the file rather than
 * wrap). 1 if every line is one, 0 at
 * the first that is not; the sum of the lines taken before into `sum`.
 */
static int model(const uint8_t *data, size_t size, uint64_t *sum)
{
	*sum = 0;
	for (size_t at = 0; at < size;) {
		const uint8_t *nl = memchr(data + at, '\n', size - at);
		if (!nl)
			return 0;
		size_t len = (size_t)(nl - (data + at));
		const char *line = (const char *)data + at, *tab = memrchr(line, '\t', len);
		at += len + 1;
		if (!tab || tab == line || tab + 1 == line + len)
			return 0;
		size_t nlen = (size_t)(line + len - tab - 1);
		if (strspn(tab + 1, "0123456789") < nlen) /* also stops at a NUL */
			return 0;
		char *num = strndup(tab + 1, nlen);
		if (!num)
			abort();
		errno = 0;
		unsigned long long v = strtoull(num, NULL, 10);
		int bad = errno || v == 0;
		free(num);
		if (bad)
			return 0;
		uint64_t next;
		if (__builtin_add_overflow(*sum, (uint64_t)v, &next))
			return 0;
		*sum = next;
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	make_dir();
	FILE *f = fopen(in_path, "w");
	if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
		perror(in_path);
		abort();
	}
	struct jg_counts *c = jg_counts_new(), *back = jg_counts_new();
	if (!c || !back)
		abort();
	char err[JG_ERRBUF_SIZE];
	int rc = jg_counts_read_tsv(c, in_path, err);
	check(rc == JG_OK || rc == JG_EIO, "read: not JG_OK nor JG_EIO");
	check(rc == JG_OK || strlen(err) > 0, "read: JG_EIO without a reason");
	uint64_t want;
	check((rc == JG_OK) == model(data, size, &want),
	      "read: took a bad line or refused a good one");
	check(jg_counts_total(c) == want, "read: the total is not the sum of the lines read");

	uint64_t sum = 0;
	for (unsigned s = 0; s < JG_COUNTS_SHARDS; s++) {
		const struct jg_wordcount *wc = &c->shard[s];
		for (size_t i = 0; wc->slots && i <= wc->mask; i++) {
			const struct jg_word *w = &wc->slots[i];
			if (w->word) {
				check(w->len > 0 && w->count > 0, "read: an empty word or a zero count");
				check(jg_counts_shard_of(w->hash) == s, "read: a word in another's shard");
				sum += w->count;
			}
		}
	}
	check(sum == jg_counts_total(c), "read: the total is not the sum of the counts");

	check(jg_counts_write_tsv(c, out_path) == JG_OK, "write");
	check(jg_counts_read_tsv(back, out_path, err) == JG_OK, "the file written does not read back");
	check(jg_counts_total(back) == jg_counts_total(c), "read back: another total");
	check(jg_counts_distinct(back) == jg_counts_distinct(c), "read back: other distinct words");
	for (unsigned s = 0; s < JG_COUNTS_SHARDS; s++) {
		const struct jg_wordcount *wc = &c->shard[s];
		for (size_t i = 0; wc->slots && i <= wc->mask; i++) {
			const struct jg_word *w = &wc->slots[i];
			if (w->word)
				check(jg_wc_get(&back->shard[jg_counts_shard_of(w->hash)], w->word, w->len) ==
				          w->count,
				      "read back: another count for a word");
		}
	}

	FILE *out = fopen(out_path, "r");
	if (!out)
		abort();
	static const size_t ks[] = {1, 2, 3, 10, 64};
	for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++)
		check_top(c, ks[i], out);
	check_top(c, (size_t)jg_counts_distinct(c), out); /* the whole table */
	fclose(out);
	jg_counts_free(back);
	jg_counts_free(c);
	return 0;
}
