/*
 * Does hashing a book as it is counted pay? A worker counts a book and
 * then takes its SHA-256 for the manifest: two passes over the bytes. The
 * fused way hashes each cache-sized block right after counting it, while
 * it is still in cache. This times both on the same bytes, one core:
 *
 *   big    the file ×10 (the KJV: 45.6 MB, far past the caches), once;
 *   small  its first 400 KiB (the bulk benchmark's book size), 100 times,
 *          into one reused table, as a worker counts book after book.
 *
 * Blocks end at a white-space byte, so that `--split whitespace` counts
 * exactly what one pass counts; the bench checks the tables and digests
 * agree. Medians of RUNS runs of the process's CPU time.
 * Usage: hash_count_bench FILE [RUNS]
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "median.h"
#include "tokenize.h"

static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static char *load(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	size_t n = (size_t)ftell(f);
	rewind(f);
	char *one = malloc(n);
	if (!one || fread(one, 1, n, f) != n) {
		fclose(f);
		return NULL;
	}
	fclose(f);
	*len = n;
	return one;
}

struct outcome {
	uint64_t total, distinct;
	unsigned char digest[32];
};

/* Counts and hashes `text` `times` times; `block` 0: two passes over the
 * whole, else blocks of about `block` bytes, each counted then hashed. */
static double run(struct jg_tokenizer *t, const char *text, size_t len, int times, size_t block,
                  struct outcome *out)
{
	struct jg_wordcount wc;
	jg_wc_init(&wc);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	double c0 = cpu_now();
	for (int k = 0; k < times; k++) {
		EVP_DigestInit_ex(md, EVP_sha256(), NULL);
		if (!block) {
			jg_tokenize(t, text, len, JG_SPLIT_WHITESPACE, &wc);
			EVP_DigestUpdate(md, text, len);
		} else {
			for (size_t at = 0; at < len;) {
				size_t end = at + block < len ? at + block : len;
				while (end < len && text[end - 1] != ' ' && text[end - 1] != '\n')
					end++;
				jg_tokenize(t, text + at, end - at, JG_SPLIT_WHITESPACE, &wc);
				EVP_DigestUpdate(md, text + at, end - at);
				at = end;
			}
		}
		EVP_DigestFinal_ex(md, out->digest, NULL);
	}
	double spent = cpu_now() - c0;
	out->total = wc.total;
	out->distinct = wc.distinct;
	EVP_MD_CTX_free(md);
	jg_wc_fini(&wc);
	return spent;
}

static int report(const char *what, struct jg_tokenizer *t, const char *text, size_t len,
                  int times, int runs)
{
	const size_t blocks[] = {0, 32 << 10, 256 << 10};
	struct outcome first, o;
	double bytes = (double)len * times;
	printf("%s: %zu bytes × %d\n", what, len, times);
	for (size_t b = 0; b < sizeof blocks / sizeof *blocks; b++) {
		double v[64] = {0};
		for (int r = 0; r < runs; r++) {
			v[r] = run(t, text, len, times, blocks[b], &o);
			if (b == 0 && r == 0)
				first = o;
			if (o.total != first.total || o.distinct != first.distinct ||
			    memcmp(o.digest, first.digest, sizeof o.digest) != 0) {
				fprintf(stderr, "hash_count_bench: the fused run differs from two passes\n");
				return -1;
			}
		}
		double m = median(v, runs);
		if (blocks[b])
			printf("  fused, %3zu KiB blocks: %.4f s CPU, %.0f MB/s\n", blocks[b] >> 10, m,
			       bytes / m / 1e6);
		else
			printf("  two passes:           %.4f s CPU, %.0f MB/s\n", m, bytes / m / 1e6);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: hash_count_bench FILE [RUNS]\n");
		return 2;
	}
	int runs = argc > 2 ? atoi(argv[2]) : 5;
	if (runs < 1 || runs > 64)
		runs = 5;
	size_t one_len;
	char *one = load(argv[1], &one_len);
	if (!one) {
		fprintf(stderr, "hash_count_bench: cannot read %s\n", argv[1]);
		return 1;
	}
	size_t big_len = one_len * 10;
	char *big = malloc(big_len);
	if (!big)
		return 1;
	for (int i = 0; i < 10; i++)
		memcpy(big + (size_t)i * one_len, one, one_len);
	struct jg_tokenizer t;
	jg_tokenizer_init(&t);
	size_t small_len = one_len < (400u << 10) ? one_len : 400u << 10;
	int rc = report("big (the file ×10)", &t, big, big_len, 1, runs) < 0 ||
	         report("small (its first 400 KiB, 100 times)", &t, one, small_len, 100, runs) < 0;
	jg_tokenizer_fini(&t);
	free(big);
	free(one);
	return rc;
}
