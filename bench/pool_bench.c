/*
 * The worker pool driven directly: books already in memory go through the
 * real loop, pipes and forked workers (which save and count them), no
 * network. Prints MB/s for 1 and 2 workers against the tokenizer's own
 * speed in this process, medians of RUNS runs.
 * Usage: pool_bench [BOOK_FILE] [TOTAL_MB] [RUNS]
 */
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "juggle.h"
#include "pool.h"
#include "boilerplate.h"
#include "charset.h"
#include "tokenize.h"

struct run {
	struct ev_loop *loop;
	unsigned pending;
	uint64_t words;
	int failed;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void on_done(void *user, uint64_t cookie, const struct jg_pool_result *r)
{
	struct run *run = user;
	run->words += r->words;
	run->failed |= r->err != 0;
	if (--run->pending == 0)
		ev_break(run->loop, EVBREAK_ONE);
}

static void on_counts(struct jg_pool *p, const struct jg_counts *c, void *user)
{
	ev_break(user, EVBREAK_ONE);
}

static char *load(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		/* Generated English-like text when the corpus is absent. */
		*len = 4u << 20;
		char *t = malloc(*len);
		static const char *w[] = {"the ", "And ", "of ", "LORD ", "unto ", "shall ", "he\n", "his "};
		size_t at = 0;
		for (unsigned x = 1; at + 8 < *len; x = x * 1103515245u + 12345u) {
			const char *s = w[(x >> 16) % 8];
			memcpy(t + at, s, strlen(s));
			at += strlen(s);
		}
		*len = at;
		return t;
	}
	fseek(f, 0, SEEK_END);
	*len = (size_t)ftell(f);
	rewind(f);
	char *t = malloc(*len);
	if (fread(t, 1, *len, f) != *len)
		*len = 0;
	fclose(f);
	return t;
}

/* Seconds for the pool of `workers` to save and count `books` copies. */
static double time_pool(struct jg_pool *pool, struct ev_loop *loop, const char *text, size_t len,
                        unsigned books, const char *dir, uint64_t *words)
{
	struct run run = {loop, books, 0, 0};
	/* The books are in memory before the clock starts, as downloads are. */
	char **bodies = malloc(books * sizeof *bodies);
	for (unsigned i = 0; i < books; i++) {
		bodies[i] = malloc(len);
		memcpy(bodies[i], text, len);
	}
	double t0 = now();
	for (unsigned i = 0; i < books; i++) {
		char name[32];
		snprintf(name, sizeof name, "b%u.txt", i);
		struct jg_pool_book b = {.job = JG_POOL_SAVE, .body = bodies[i], .len = len,
		                         .dir = dir, .name = name, .count = {.top = 10},
		                         .done = on_done, .user = &run, .cookie = i};
		if (jg_pool_submit(pool, &b) < 0)
			abort();
	}
	free(bodies);
	ev_run(loop, 0);
	jg_pool_collect(pool, on_counts, loop);
	ev_run(loop, 0);
	double t = now() - t0;
	*words = run.words;
	if (run.failed)
		fprintf(stderr, "some books failed\n");
	return t;
}

int main(int argc, char **argv)
{
	const char *book = argc > 1 ? argv[1] : "../shared/corpus/kjvbible.txt";
	double total_mb = argc > 2 ? atof(argv[2]) : 400;
	int runs = argc > 3 ? atoi(argv[3]) : 3;
	if (runs < 1 || runs > 15)
		runs = 3;
	size_t len;
	char *text = load(book, &len);
	unsigned books = (unsigned)(total_mb * 1e6 / (double)len + 0.5);
	double mb = (double)books * len / 1e6;
	struct jg_pool *pools[2];
	char why[JG_ERRBUF_SIZE];
	for (int i = 0; i < 2; i++)
		if (jg_pool_new(&pools[i], (unsigned)i + 1, why) != JG_OK) {
			fprintf(stderr, "%s\n", why);
			return 1;
		}
	struct ev_loop *loop = ev_default_loop(0);
	jg_pool_attach(pools[0], loop);
	jg_pool_attach(pools[1], loop);
	char dir[] = "/dev/shm/jg-poolbench-XXXXXX";
	if (!mkdtemp(dir)) {
		strcpy(dir, "/tmp/jg-poolbench-XXXXXX");
		mkdtemp(dir);
	}
	double tok[15], one[15], two[15];
	uint64_t words = 0;
	struct jg_tokenizer t;
	jg_tokenizer_init(&t);
	for (int r = 0; r < runs; r++) {
		double t0 = now();
		for (unsigned i = 0; i < books; i++) {
			/* What a worker does per book, minus saving and pipes. */
			struct jg_wordcount wc, all;
			jg_wc_init(&wc);
			jg_wc_init(&all);
			struct jg_text tx;
			jg_text_decode(text, len, NULL, &tx);
			size_t s = 0, e = tx.len;
			jg_text_strip_boilerplate(tx.text, tx.len, &s, &e);
			jg_tokenize(&t, tx.text + s, e - s, JG_SPLIT_WORDS, &wc);
			jg_text_fini(&tx);
			jg_wc_merge(&all, &wc);
			jg_wc_fini(&wc);
			jg_wc_fini(&all);
		}
		tok[r] = now() - t0;
		one[r] = time_pool(pools[0], loop, text, len, books, dir, &words);
		two[r] = time_pool(pools[1], loop, text, len, books, dir, &words);
	}
	qsort(tok, (size_t)runs, sizeof *tok, cmp);
	qsort(one, (size_t)runs, sizeof *one, cmp);
	qsort(two, (size_t)runs, sizeof *two, cmp);
	double tm = tok[runs / 2], om = one[runs / 2], wm = two[runs / 2];
	printf("%u books x %.1f MB = %.0f MB, %llu words per pass; median of %d runs; saved to %s\n",
	       books, len / 1e6, mb, (unsigned long long)words, runs, dir);
	printf("| what | seconds | MB/s | ratio |\n|---|---|---|---|\n");
	printf("| tokenizer alone, in process | %.3f | %.0f | 1.00 |\n", tm, mb / tm);
	printf("| pool, 1 worker (save + count, pipes) | %.3f | %.0f | %.2f of tokenizer |\n", om, mb / om, tm / om);
	printf("| pool, 2 workers | %.3f | %.0f | %.2fx 1 worker |\n", wm, mb / wm, om / wm);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	jg_tokenizer_fini(&t);
	jg_pool_free(pools[0]);
	jg_pool_free(pools[1]);
	free(text);
	return 0;
}
