/*
 * `juggle merge`: combines the output directories of the shards of one
 * list into the result a single run over the whole list would have given:
 * the same totals, per-book figures, failures and count table. Everything
 * comes from each shard's manifest and sealed count snapshot; no book is
 * read again.
 */
#include "merge.h"
#include "outfile.h"
#include "say.h"

#include "manifest.h"
#include "report.h"
#include "snapshot.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { MERGE_OK = 0, MERGE_INCOMPLETE = 1, MERGE_USAGE = 2 };

static const char merge_usage[] =
"Usage: juggle merge [OPTION]... SHARD_DIR...\n"
"Combine the output directories of the shards of one list (runs with\n"
"--shard K/N) into the result of a single run over the whole list.\n"
"\n"
"  --counts FILE   write the merged word table as word<TAB>count\n"
"  --json FILE     write the merged JSON report (books in list order)\n"
"  --top N         most frequent words shown [10]\n"
"  -q, --quiet     print the summary only when something is wrong\n"
"  -h, --help      show this help\n"
"\n"
"Shards of different lists, shard counts or counting modes are refused\n"
"(exit 2). Missing shards, books without a record or counts that are\n"
"not sealed (a shard still running, or killed) are named, the rest is\n"
"merged, and the exit status is 1; it is 0 when every URL of every shard\n"
"was saved.\n";

struct shard {
	const char *dir;
	struct jg_manifest m;
	struct jg_counts *counts;
	int jfd;                  /* its DIR/.juggle */
};

/* A book and the shard it came from, to be sorted into list order. */
struct placed {
	const struct jg_mf_book *book;
	const struct shard *shard;
};

static int by_index(const void *a, const void *b)
{
	const struct jg_mf_book *x = ((const struct placed *)a)->book;
	const struct jg_mf_book *y = ((const struct placed *)b)->book;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* Loads a shard; -1 when it cannot be used at all (said why). */
static int load_shard(struct shard *sh)
{
	char why[600];
	jg_mf_init(&sh->m);
	sh->jfd = jg_mf_open_dir(sh->dir, 0, why, sizeof why);
	if (sh->jfd < 0 && errno != ENOENT) {
		jg_say(stderr, "juggle merge: %s\n", why);
		return -1;
	}
	if (sh->jfd >= 0 && jg_mf_load(&sh->m, sh->jfd, sh->dir, why, sizeof why) < 0) {
		jg_say(stderr, "juggle merge: %s\n", why);
		return -1;
	}
	if (!sh->m.found) {
		jg_say(stderr, "juggle merge: %s: no %s/manifest: not a juggle output directory, or "
		        "its run never started\n", sh->dir, JG_MF_DIR);
		return -1;
	}
	if (sh->m.bad_line) {
		jg_say(stderr, "juggle merge: %s/%s/manifest:%lu: fails its checksum or is not a record "
		        "juggle writes; run the shard again to rebuild it\n", sh->dir, JG_MF_DIR,
		        sh->m.bad_line);
		return -1;
	}
	/* Empty, or its header cut short: what a crash after the rename can
	 * leave, or an interrupted copy of the shard. */
	if (!sh->m.juggle_version || !sh->m.count_mode) {
		jg_say(stderr, "juggle merge: %s/%s/manifest: no header (empty, or cut short); run "
		        "the shard again\n", sh->dir, JG_MF_DIR);
		return -1;
	}
	return 0;
}

/* Two shards belong together: same list, same N, same counting. */
static int compatible(const struct shard *a, const struct shard *b)
{
	if (a->m.list_hash != b->m.list_hash || a->m.list_urls != b->m.list_urls) {
		jg_say(stderr, "juggle merge: %s was made from a different list (%" PRIu64 " URLs, "
		        "fingerprint %016" PRIx64 ") than %s (%" PRIu64 " URLs, %016" PRIx64 ")\n",
		        b->dir, b->m.list_urls, b->m.list_hash, a->dir, a->m.list_urls, a->m.list_hash);
		return 0;
	}
	if (a->m.shard_n != b->m.shard_n) {
		jg_say(stderr, "juggle merge: %s is shard %u/%u but %s is shard %u/%u: different "
		        "shard counts\n", b->dir, b->m.shard_k, b->m.shard_n, a->dir, a->m.shard_k,
		        a->m.shard_n);
		return 0;
	}
	if (a->m.shard_k == b->m.shard_k) {
		jg_say(stderr, "juggle merge: %s and %s are both shard %u/%u\n", a->dir, b->dir,
		        a->m.shard_k, a->m.shard_n);
		return 0;
	}
	if (!a->m.count_mode || !b->m.count_mode || strcmp(a->m.count_mode, b->m.count_mode) != 0) {
		jg_say(stderr, "juggle merge: %s counted '%s' but %s counted '%s'\n", a->dir,
		        a->m.count_mode ? a->m.count_mode : "?", b->dir,
		        b->m.count_mode ? b->m.count_mode : "?");
		return 0;
	}
	return 1;
}

/* The shard's sealed table, when every saved book is in it. 0 or -1. */
static int load_counts(struct shard *sh)
{
	const struct jg_manifest *m = &sh->m;
	uint64_t unsealed = 0;
	for (size_t i = 0; i < m->n_books; i++)
		if (m->books[i].ok && !m->books[i].sealed && !m->books[i].other)
			unsealed++;
	if (!m->has_seal || unsealed || m->seal_broken) {
		jg_say(stderr, "juggle merge: %s: %" PRIu64 " saved books have no sealed counts (is the "
		        "shard still running, or was it killed? run it again)\n", sh->dir,
		        unsealed ? unsealed : m->n_books);
		return -1;
	}
	char why[600];
	if (!(sh->counts = jg_snapshot_load(sh->jfd, sh->dir, m, why, sizeof why))) {
		jg_say(stderr, "juggle merge: %s; run the shard again\n", why);
		return -1;
	}
	return 0;
}

/* A manifest record as the report takes it: the run's own result type. */
static void report_record(struct jg_report *r, const struct shard *sh, const struct jg_mf_book *b)
{
	struct jg_result res;
	struct jg_word_count top[JG_MF_TOP_MAX];
	static char words[JG_MF_TOP_WORDS]; /* as long as a run's */
	char path[PATH_MAX + 300];
	jg_mf_book_to_result(b, sh->dir, &res, path, sizeof path, top, words, sizeof words);
	jg_report_book(r, &res, NULL);
}

/* An input line is read by every shard: report each once. Sorting them
 * all keeps that n log n (two shards of 180,000 took 11 s pairwise). */
static int by_input_error(const void *a, const void *b)
{
	const struct jg_mf_input_error *x = *(const struct jg_mf_input_error *const *)a;
	const struct jg_mf_input_error *y = *(const struct jg_mf_input_error *const *)b;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	int c = strcmp(x->text ? x->text : "", y->text ? y->text : "");
	return c ? c : strcmp(x->error ? x->error : "", y->error ? y->error : "");
}

static void report_input_errors(struct jg_report *report, struct shard *shards, size_t n)
{
	size_t total = 0, k = 0;
	for (size_t s = 0; s < n; s++)
		total += shards[s].m.n_input_errors;
	const struct jg_mf_input_error **all = malloc((total ? total : 1) * sizeof *all);
	if (!all) {
		jg_say(stderr, "juggle merge: out of memory\n");
		return;
	}
	for (size_t s = 0; s < n; s++)
		for (size_t i = 0; i < shards[s].m.n_input_errors; i++)
			all[k++] = &shards[s].m.input_errors[i];
	qsort(all, total, sizeof *all, by_input_error);
	for (size_t i = 0; i < total; i++) {
		const struct jg_mf_input_error *e = all[i];
		if (i && by_input_error(&all[i - 1], &all[i]) == 0)
			continue;
		jg_report_input_error(report, e->source ? e->source : "?", e->line, e->text,
		                      e->error ? e->error : "");
	}
	free(all);
}

struct merge_args {
	const char *counts_path, *json_path;
	unsigned top;
	int quiet;
};

static int parse_merge_args(int argc, char **argv, struct merge_args *a)
{
	static const struct option opts[] = {
		{"counts", required_argument, NULL, 'c'},
		{"json", required_argument, NULL, 'j'},
		{"top", required_argument, NULL, 't'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int opt;
	char *end;
	a->top = 10;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': a->counts_path = optarg; break;
		case 'j': a->json_path = optarg; break;
		case 'q': a->quiet = 1; break;
		case 't':
			a->top = (unsigned)strtoul(optarg, &end, 10);
			if (*end || !*optarg || a->top > 64) {
				jg_say(stderr, "juggle merge: --top: expected 0 to 64, got '%s'\n", optarg);
				return -1;
			}
			break;
		case 'h': fputs(merge_usage, stdout); exit(0);
		default: jg_say(stderr, "Try 'juggle merge --help'.\n"); return -1;
		}
	}
	if (optind >= argc) {
		jg_say(stderr, "juggle merge: no shard directories given\nTry 'juggle merge --help'.\n");
		return -1;
	}
	return 0;
}

/* The records of the shard's own list: not another list's (O). */
static uint64_t listed_books(const struct jg_manifest *m)
{
	uint64_t n = 0;
	for (size_t i = 0; i < m->n_books; i++)
		n += !m->books[i].other;
	return n;
}

/* Missing shards and books without a record: 0 when there are none. */
static int check_complete(struct shard *shards, size_t n)
{
	int bad = 0;
	uint32_t total = shards[0].m.shard_n;
	if (total > 0) {
		char *have = calloc(total, 1);
		if (!have)
			return -1;
		for (size_t s = 0; s < n; s++)
			have[shards[s].m.shard_k] = 1;
		uint32_t missing = 0;
		for (uint32_t k = 0; k < total; k++)
			missing += !have[k];
		if (missing) {
			jg_say(stderr, "juggle merge: missing %u of %u shards:", missing, total);
			for (uint32_t k = 0; k < total; k++)
				if (!have[k])
					jg_say(stderr, " %u", k);
			jg_say(stderr, "; the result covers only the shards given\n");
			bad = 1;
		}
		free(have);
	}
	for (size_t s = 0; s < n; s++) {
		const struct jg_manifest *m = &shards[s].m;
		uint64_t own = listed_books(m);
		if (own < m->accepted) {
			jg_say(stderr, "juggle merge: %s: %" PRIu64 " of its %" PRIu64 " URLs have no "
			        "record (is the shard still running, or was it killed? run it again)\n",
			        shards[s].dir, m->accepted - own, m->accepted);
			bad = 1;
		}
	}
	return bad;
}

int jg_merge_main(int argc, char **argv)
{
	struct merge_args a = {0};
	if (parse_merge_args(argc, argv, &a) < 0)
		return MERGE_USAGE;
	size_t n = (size_t)(argc - optind);
	struct shard *shards = calloc(n, sizeof *shards);
	if (!shards)
		return MERGE_USAGE;
	int status = MERGE_OK;
	for (size_t s = 0; s < n; s++)
		shards[s].jfd = -1;
	for (size_t s = 0; s < n; s++) {
		shards[s].dir = argv[optind + (int)s];
		if (load_shard(&shards[s]) < 0)
			status = MERGE_USAGE;
	}
	for (size_t s = 1; s < n && status == MERGE_OK; s++)
		for (size_t t = 0; t < s && status == MERGE_OK; t++)
			if (!compatible(&shards[t], &shards[s]))
				status = MERGE_USAGE;
	if (status == MERGE_OK && shards[0].m.shard_n == 0 && n > 1) {
		jg_say(stderr, "juggle merge: %s is not a shard (run without --shard)\n", shards[0].dir);
		status = MERGE_USAGE;
	}
	if (status != MERGE_OK)
		goto out;
	int counting = strcmp(shards[0].m.count_mode, "off") != 0;
	int incomplete = check_complete(shards, n) != 0;

	struct jg_counts *all = counting ? jg_counts_new() : NULL;
	for (size_t s = 0; s < n && counting && all; s++) {
		if (load_counts(&shards[s]) < 0)
			incomplete = 1;
		else if (jg_counts_merge(all, shards[s].counts) != JG_OK)
			incomplete = 1;
	}

	struct jg_report report;
	if (jg_report_init(&report, NULL, a.quiet, a.json_path) < 0) {
		status = MERGE_USAGE;
		jg_counts_free(all);
		goto out;
	}
	report.merged_shards = (unsigned)n;
	/* Books in list order, as one table over every shard. */
	size_t total_books = 0;
	for (size_t s = 0; s < n; s++) {
		total_books += shards[s].m.n_books;
		report.total += shards[s].m.accepted;
	}
	struct placed *order = malloc((total_books ? total_books : 1) * sizeof *order);
	if (order) {
		size_t k = 0;
		for (size_t s = 0; s < n; s++)
			for (size_t i = 0; i < shards[s].m.n_books; i++)
				if (!shards[s].m.books[i].other)
					order[k++] = (struct placed){&shards[s].m.books[i], &shards[s]};
		total_books = k;
		qsort(order, total_books, sizeof *order, by_index);
		for (size_t i = 0; i < total_books; i++)
			report_record(&report, order[i].shard, order[i].book);
	} else {
		jg_say(stderr, "juggle merge: out of memory\n");
		incomplete = 1;
	}
	free(order);
	report_input_errors(&report, shards, n);
	if (all) {
		jg_report_counts(&report, all, a.top);
		struct outfile out;
		if (outfile_open(&out, "--counts", a.counts_path) < 0 ||
		    (out.f && (jg_counts_write_tsv_fd(all, fileno(out.f)) != JG_OK ||
		               outfile_commit(&out) < 0))) {
			jg_say(stderr, "juggle merge: %s: cannot write the counts\n", a.counts_path);
			incomplete = 1;
		}
		outfile_close(&out);
	}
	if (jg_report_finish(&report, NULL) < 0) /* a merge ran nothing */
		incomplete = 1;
	if (report.failed || report.input_errors)
		incomplete = 1;
	jg_report_fini(&report);
	jg_counts_free(all);
	status = incomplete ? MERGE_INCOMPLETE : MERGE_OK;
out:
	for (size_t s = 0; s < n; s++) {
		jg_mf_fini(&shards[s].m);
		jg_counts_free(shards[s].counts);
		if (shards[s].jfd >= 0)
			close(shards[s].jfd);
	}
	free(shards);
	return status;
}
