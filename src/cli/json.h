/*
 * The JSON report: every book in order, then the totals, the counts and,
 * for a run, what the run measured. One writer for a run and for `juggle
 * merge`. It is written beside its final name and renamed over it once
 * whole, so a reader never sees half a report.
 */
#ifndef JG_CLI_JSON_H
#define JG_CLI_JSON_H

#include <stdint.h>
#include <stdio.h>

#include "juggle.h"
#include "outfile.h"

struct json_entry {
	uint64_t key;              /* input position (or order of arrival) */
	long off;                  /* in the scratch file */
	size_t len;
};

struct json_report {
	struct outfile out;        /* out.f NULL: no report asked for */
	FILE *scratch;             /* the books' entries, as they came */
	struct json_entry *entries;
	size_t n, cap;
	uint64_t arrived;
	int failed;                /* an entry could not be kept */
};

/* Where a book came from in the input: NULL for a merge's. */
struct json_origin {
	uint64_t index;            /* 0-based position among the input's URLs */
	const char *list;          /* the -i list it was read from; NULL: an argument */
	unsigned long line;        /* its line there */
};

/* The totals every report ends with (a run's wall time and retries are
 * its json_run's; a merge's are 0). */
struct json_totals {
	uint64_t urls, ok, failed, cancelled, input_errors, bytes;
	uint64_t reused_bytes;     /* of `bytes`, kept from an earlier run: not in
	                              the rate, as in the summary */
	int have_counts;
	uint64_t words, distinct;
	const struct jg_word_count *top;
	size_t n_top;
};

/* What a run measured: a merge ran nothing and has none of it. */
struct json_run {
	double wall;               /* seconds */
	uint64_t retries;
	unsigned worker_restarts;
	enum jg_engine engine;
	unsigned threads;
	double stall_max, stall_p99;
	uint64_t loop_iterations;
	const struct jg_settings *settings; /* the options the run had; NULL: none */
	const struct jg_host_stats *hosts; /* names and robots owned by the caller */
	size_t n_hosts;
};

/* Starts the report at `path`. 0, or -1 after printing why. */
int json_report_open(struct json_report *j, const char *path);
/* One book (`res` NULL for an input line that was no URL). */
void json_report_book(struct json_report *j, const struct jg_result *res,
                      const struct json_origin *from);
/* A line of the input that named no book it could take (after the books). */
void json_report_input_error(struct json_report *j, const char *source, unsigned long line,
                             const char *text, const char *why);
/* Ends it: `run` for a run, or `merged_shards` for a merge. 0, or -1 after
 * printing why. */
int json_report_finish(struct json_report *j, const struct json_totals *t,
                       const struct json_run *run, unsigned merged_shards);
/* Drops an unfinished report (its temporary file). */
void json_report_close(struct json_report *j);

#endif
