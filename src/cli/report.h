/*
 * What the user sees: a live progress line on a terminal, the summary at
 * the end, and the JSON report. Only the CLI uses it; the library never
 * prints.
 */
#ifndef JG_REPORT_H
#define JG_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "json.h"
#include "juggle.h"

struct progress;

struct jg_report {
	struct progress *progress; /* the live line to clear, or NULL */
	int quiet;
	int verbose;               /* -v: events as they happen, the loop's figures */
	int running;               /* a run (not a merge): books end as it goes */
	int per_book;              /* print each book's counts */
	int have_counts;
	uint64_t count_words, count_distinct;
	struct jg_word_count top[64];
	size_t n_top;
	unsigned merged_shards;    /* `juggle merge`: shards combined; 0 for a run */
	uint64_t total;            /* URLs accepted */
	uint64_t ok, failed, bytes;
	uint64_t cancelled;
	uint64_t counted_books;        /* not fetched: the run was interrupted */
	int interrupted;
	FILE *failed_list;         /* --failed: every failed URL, a line each */
	uint64_t reused_bytes;     /* of `bytes`: books kept from an earlier run */
	uint64_t continued_bytes;  /* of `bytes`: partial bodies an earlier attempt or
	                              run left, whose rest alone was transferred */
	uint64_t input_errors;
	struct json_report json;
	struct report_line *failures, **failures_tail;
	uint64_t n_failures;
	struct report_line *notes, **notes_tail; /* what is worth knowing of a book */
	uint64_t n_notes;
	const char **mirrors;      /* two or more: the books each served */
	size_t n_mirrors;
	uint64_t *mirror_books;    /* n_mirrors + 1: the last, served elsewhere */
};

/* `progress` (the line to clear before printing) and `json_path` may be
 * NULL. 0, or -1 after printing why. */
int jg_report_init(struct jg_report *r, struct progress *progress, int quiet,
                   const char *json_path);
/* The URLs accepted: a summary per book for 50 or fewer. */
void jg_report_set_total(struct jg_report *r, uint64_t total);
/* The mirrors of a run with several: the summary says what each served.
 * 0, or -1 out of memory. */
int jg_report_set_mirrors(struct jg_report *r, const char *const *mirrors, size_t n);
/* A line of the input that could not be queued. */
void jg_report_input_error(struct jg_report *r, const char *source, unsigned long line,
                           const char *text, const char *why);
/* -v: one line for what happens to a book, as it happens. */
void jg_report_event(struct jg_report *r, const struct jg_event *e);
/* -v: a worker process died (`restarts` so far) and was started again. */
void jg_report_worker_restart(struct jg_report *r, unsigned restarts);
/* A finished URL (the session's book callback). */
void jg_report_book(struct jg_report *r, const struct jg_result *res,
                    const struct json_origin *from);
/* The merged counts: the top words on stderr and in the JSON report. */
void jg_report_counts(struct jg_report *r, const struct jg_counts *c, unsigned top);
/* Prints the summary and completes the JSON report: `run` is what a run
 * measured, NULL for a merge (merged_shards set). 0, or -1 on I/O error. */
int jg_report_finish(struct jg_report *r, const struct json_run *run);
void jg_report_fini(struct jg_report *r);

#endif
