/*
 * Tokenizer speed: the King James Bible ×10 (the "countwords" input),
 * counted into a full table by each split mode, against `wc -w` counting
 * the same file in the same run; and the charset decision a worker makes
 * first (with no HTTP charset: the book's line, then UTF-8 validity over
 * every byte). Medians of RUNS runs, wall time and the process's CPU time
 * (the figure to trust when other programs share the cores: time spent
 * waiting for a core is not in it). The tokenizer takes the fastest path
 * the CPU has; JUGGLE_TOKENIZE_PATH=bytewise|scalar|sse2|avx2 picks one.
 * Usage: tokenize_bench [FILE] [RUNS]   (FILE: kjvbible.txt; else generated)
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "charset.h"
#include "median.h"
#include "tokenize.h"

static double clock_s(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double now(void)
{
	return clock_s(CLOCK_MONOTONIC);
}

static double cpu_now(void)
{
	return clock_s(CLOCK_PROCESS_CPUTIME_ID);
}


static char *load(const char *path, size_t *len)
{
	FILE *f = path ? fopen(path, "rb") : NULL;
	char *one = NULL;
	size_t n = 0;
	if (f) {
		fseek(f, 0, SEEK_END);
		n = (size_t)ftell(f);
		rewind(f);
		one = malloc(n);
		if (fread(one, 1, n, f) != n)
			n = 0;
		fclose(f);
	} else { /* a generated text of the same size as the bible */
		static const char *words[] = {"the", "And", "of", "LORD", "unto", "shall", "he", "his",
		                              "them,", "in", "that", "I", "him:", "they", "be", "is"};
		n = 4300000;
		one = malloc(n + 16);
		size_t at = 0;
		unsigned x = 1;
		while (at < n) {
			x = x * 1103515245u + 12345u;
			const char *w = words[(x >> 16) % 16];
			at += (size_t)sprintf(one + at, "%s%s", w, (x >> 8) % 11 ? " " : "\n");
		}
		n = at;
	}
	*len = n * 10;
	char *all = malloc(*len);
	for (int i = 0; i < 10; i++)
		memcpy(all + (size_t)i * n, one, n);
	free(one);
	return all;
}

static double time_wc(const char *file)
{
	double t0 = now();
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);
		dup2(fd, 1);
		execlp("wc", "wc", "-w", file, (char *)NULL);
		_exit(127);
	}
	int status;
	waitpid(pid, &status, 0);
	return now() - t0;
}

int main(int argc, char **argv)
{
	const char *src = argc > 1 ? argv[1] : NULL;
	int runs = argc > 2 ? atoi(argv[2]) : 5;
	size_t len;
	char *text = load(src, &len);
	char tmp[] = "/tmp/jg-tokbench-XXXXXX";
	int fd = mkstemp(tmp);
	if (fd < 0 || write(fd, text, len) != (ssize_t)len)
		return 1;
	close(fd);
	double wc_t[64], ws_t[64], uni_t[64], dec_t[64], ws_cpu[64], uni_cpu[64];
	uint64_t words[2] = {0, 0};
	struct jg_tokenizer t;
	jg_tokenizer_init(&t);
	if (runs > 64)
		runs = 64;
	for (int r = 0; r < runs; r++) {
		wc_t[r] = time_wc(tmp);
		double d0 = now();
		struct jg_text tx;
		if (jg_text_decode(text, len, NULL, &tx) < 0)
			return 1;
		dec_t[r] = now() - d0;
		jg_text_fini(&tx);
		for (int mode = 0; mode < 2; mode++) {
			struct jg_wordcount wc;
			jg_wc_init(&wc);
			double t0 = now(), c0 = cpu_now();
			jg_tokenize(&t, text, len, mode ? JG_SPLIT_WHITESPACE : JG_SPLIT_WORDS, &wc);
			(mode ? ws_cpu : uni_cpu)[r] = cpu_now() - c0;
			(mode ? ws_t : uni_t)[r] = now() - t0;
			words[mode] = wc.total;
			jg_wc_fini(&wc);
		}
	}
	unlink(tmp);
	double wc_m = median(wc_t, runs), ws_m = median(ws_t, runs), uni_m = median(uni_t, runs);
	double dec_m = median(dec_t, runs);
	double ws_c = median(ws_cpu, runs), uni_c = median(uni_cpu, runs);
	double mb = len / 1e6;
	printf("input: %s x10, %.1f MB; median of %d runs; one core; tokenizer path %s\n",
	       src ? src : "generated text", mb, runs, jg_tokenize_path_name(t.path));
	printf("| what | seconds | MB/s | time / wc -w | CPU s | MB/s of CPU time |\n"
	       "|---|---|---|---|---|---|\n");
	printf("| wc -w (count only, reference) | %.3f | %.0f | 1.00 | | |\n", wc_m, mb / wc_m);
	printf("| juggle --split whitespace (full table, %llu words) | %.3f | %.0f | %.2f | %.3f | %.0f |\n",
	       (unsigned long long)words[1], ws_m, mb / ws_m, ws_m / wc_m, ws_c, mb / ws_c);
	printf("| juggle default (Unicode, %llu words) | %.3f | %.0f | %.2f | %.3f | %.0f |\n",
	       (unsigned long long)words[0], uni_m, mb / uni_m, uni_m / wc_m, uni_c, mb / uni_c);
	printf("| charset decision (no HTTP charset: book line, UTF-8 check) | %.3f | %.0f | %.2f | | |\n",
	       dec_m, mb / dec_m, dec_m / wc_m);
	printf("Unicode mode speed / whitespace mode speed: %.2f\n", ws_m / uni_m);
	jg_tokenizer_fini(&t);
	free(text);
	return 0;
}
