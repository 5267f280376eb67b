/*
 * What counting costs a juggle worker, without the download: the books
 * named in LIST (one path a line) are read into memory first (not timed),
 * then, RUNS times, each book goes through the steps of the worker's
 * count_book() (src/lib/pool/worker.c): charset decision and UTF-8 text
 * (no HTTP charset, as from a stock nginx), Gutenberg header and footer
 * cut off (unless --keep-boilerplate), tokenized into the book's table
 * (--split words or whitespace, as juggle's option), that table merged
 * into a running one. Saving, SHA-256, pipes and the top-N list are not
 * in it: juggle does them with --no-count too.
 *
 * One process, one core. Prints one JSON line: medians of RUNS of wall
 * and CPU time (CLOCK_PROCESS_CPUTIME_ID: time spent waiting for a core
 * while other programs run is not in it), bytes, words and distinct
 * words, for bench/count_cost.py.
 *
 * Usage: count_files_bench [--split words|whitespace] [--keep-boilerplate] LIST RUNS
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "boilerplate.h"
#include "charset.h"
#include "median.h"
#include "tokenize.h"
#include "wordcount.h"

struct book {
	char *body;
	size_t len;
};

static double clock_s(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}


static int load(const char *path, struct book *b)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "count_files_bench: %s: %s\n", path, strerror(errno));
		return -1;
	}
	b->len = (size_t)st.st_size;
	b->body = malloc(b->len + 1);
	size_t got = 0;
	while (b->body && got < b->len) {
		ssize_t r = read(fd, b->body + got, b->len - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (!b->body || got != b->len) {
		fprintf(stderr, "count_files_bench: %s: cannot read it whole\n", path);
		return -1;
	}
	return 0;
}

static void usage(void)
{
	fputs("usage: count_files_bench [--split words|whitespace] [--keep-boilerplate] LIST RUNS\n",
	      stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	enum jg_split mode = JG_SPLIT_WORDS;
	int keep = 0, i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--split") == 0 && i + 1 < argc) {
			i++;
			if (strcmp(argv[i], "whitespace") == 0)
				mode = JG_SPLIT_WHITESPACE;
			else if (strcmp(argv[i], "words") != 0)
				usage();
		} else if (strcmp(argv[i], "--keep-boilerplate") == 0) {
			keep = 1;
		} else {
			usage();
		}
	}
	if (argc - i != 2)
		usage();
	int runs = atoi(argv[i + 1]);
	if (runs < 1 || runs > 100)
		usage();
	FILE *list = fopen(argv[i], "r");
	if (!list) {
		fprintf(stderr, "count_files_bench: %s: %s\n", argv[i], strerror(errno));
		return 1;
	}
	struct book *books = NULL;
	size_t n = 0, cap = 0;
	uint64_t bytes = 0;
	char line[4096];
	while (fgets(line, sizeof line, list)) {
		line[strcspn(line, "\n")] = '\0';
		if (!*line)
			continue;
		if (n == cap && !(books = realloc(books, (cap = cap ? cap * 2 : 256) * sizeof *books)))
			return 1;
		if (load(line, &books[n]) < 0)
			return 1;
		bytes += books[n++].len;
	}
	fclose(list);

	struct jg_tokenizer tok;
	jg_tokenizer_init(&tok);
	struct jg_wordcount book, running;
	jg_wc_init(&book);
	jg_wc_init(&running);
	double wall[100], cpu[100];
	for (int r = 0; r < runs; r++) {
		jg_wc_clear(&running);
		double w0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
		for (size_t b = 0; b < n; b++) {
			struct jg_text text;
			if (jg_text_decode(books[b].body, books[b].len, "", &text) < 0)
				return 1;
			size_t start = 0, end = text.len;
			if (!keep)
				jg_text_strip_boilerplate(text.text, text.len, &start, &end);
			jg_wc_clear(&book);
			if (jg_tokenize(&tok, text.text + start, end - start, mode, &book) < 0 ||
			    jg_wc_merge(&running, &book) < 0)
				return 1;
			jg_text_fini(&text);
		}
		cpu[r] = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
		wall[r] = clock_s(CLOCK_MONOTONIC) - w0;
	}
	printf("{\"books\":%zu,\"bytes\":%llu,\"runs\":%d,\"words\":%llu,\"distinct\":%llu,"
	       "\"wall_seconds\":%.6f,\"cpu_seconds\":%.6f,\"path\":\"%s\",\"split\":\"%s\","
	       "\"keep_boilerplate\":%s}\n",
	       n, (unsigned long long)bytes, runs, (unsigned long long)running.total,
	       (unsigned long long)running.distinct, median(wall, runs), median(cpu, runs),
	       jg_tokenize_path_name(tok.path), mode == JG_SPLIT_WHITESPACE ? "whitespace" : "words",
	       keep ? "true" : "false");
	jg_wc_fini(&book);
	jg_wc_fini(&running);
	jg_tokenizer_fini(&tok);
	for (size_t b = 0; b < n; b++)
		free(books[b].body);
	free(books);
	return 0;
}
