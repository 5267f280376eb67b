/*
 * countwords_ref: the reference of bench/count_cost.py's kjv43 scenario,
 * "countwords optimized C". Written for this project AFTER THE METHOD of
 * optimized.c in Ben Hoyt's benhoyt/countwords benchmark (2021), because
 * that program is not available on this machine: it is not a copy of it.
 * The method, as that program has it:
 *
 *   - read the input in 64 KiB chunks; a word cut by a chunk's end is moved
 *     to the front of the buffer and finished by the next read;
 *   - one pass over each chunk: skip separators, then take the word's bytes,
 *     lower-casing A-Z in place and hashing as it goes (64-bit FNV);
 *   - count in an open-addressing table of 65,536 slots with linear
 *     probing, keyed by (length, bytes), each new word copied out;
 *   - at the end, gather the used slots, qsort them by count, most
 *     frequent first, and print "word count" a line each.
 *
 * Where this one differs, and why:
 *   - separators are the six ASCII white-space bytes (space, \t, \n, \v,
 *     \f, \r), the rule of juggle's --split whitespace that it is compared
 *     with. The original splits on every byte <= ' ' of a plain (on x86
 *     signed) char, which also splits on the other control bytes and on
 *     every byte >= 0x80; on an ASCII text with no control bytes but \n
 *     (the KJV) the two rules give the same words;
 *   - the hash is FNV-1a (xor, then multiply; the original multiplies
 *     first), and the table doubles at half full instead of looping
 *     forever past 65,536 distinct words; on the KJV (about 33,000
 *     distinct) it never grows, so the work is the original's;
 *   - counts are 64-bit, and equal counts are ordered by word (byte
 *     order), so that two runs print the same bytes;
 *   - read(2) on a file named on the command line, or standard input.
 *
 * Usage: countwords_ref [FILE] > counts.txt
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK (64 * 1024)
#define FIRST_SLOTS 65536 /* a power of two */
#define FNV_OFFSET 14695981039346656037ULL
#define FNV_PRIME 1099511628211ULL

struct slot {
	char *word; /* NULL: empty */
	size_t len;
	uint64_t hash;
	uint64_t count;
};

static struct slot *slots;
static size_t mask = FIRST_SLOTS - 1;
static size_t used;

static void *must(void *p)
{
	if (!p) {
		fputs("countwords_ref: out of memory\n", stderr);
		exit(1);
	}
	return p;
}

static const unsigned char is_space[256] = {
	[' '] = 1, ['\t'] = 1, ['\n'] = 1, ['\v'] = 1, ['\f'] = 1, ['\r'] = 1,
};

static void grow(void)
{
	size_t old_mask = mask;
	struct slot *old = slots;
	mask = mask * 2 + 1;
	slots = must(calloc(mask + 1, sizeof *slots));
	for (size_t i = 0; i <= old_mask; i++) {
		if (!old[i].word)
			continue;
		size_t j = (size_t)old[i].hash & mask;
		while (slots[j].word)
			j = (j + 1) & mask;
		slots[j] = old[i];
	}
	free(old);
}

static void increment(const char *word, size_t len, uint64_t hash)
{
	size_t i = (size_t)hash & mask;
	for (;;) {
		struct slot *s = &slots[i];
		if (!s->word) {
			s->word = must(malloc(len ? len : 1));
			memcpy(s->word, word, len);
			s->len = len;
			s->hash = hash;
			s->count = 1;
			if (++used * 2 > mask + 1)
				grow();
			return;
		}
		if (s->len == len && memcmp(s->word, word, len) == 0) {
			s->count++;
			return;
		}
		i = (i + 1) & mask;
	}
}

static int by_count(const void *pa, const void *pb)
{
	const struct slot *a = pa, *b = pb;
	if (a->count != b->count)
		return a->count < b->count ? 1 : -1;
	size_t n = a->len < b->len ? a->len : b->len;
	int c = memcmp(a->word, b->word, n);
	if (c)
		return c;
	return (a->len > b->len) - (a->len < b->len);
}

/* Counts the words of buf[0, n): every one of them ends before n. */
static void scan(char *buf, size_t n)
{
	size_t i = 0;
	for (;;) {
		while (i < n && is_space[(unsigned char)buf[i]])
			i++;
		if (i >= n)
			return;
		size_t start = i;
		uint64_t hash = FNV_OFFSET;
		for (; i < n; i++) {
			unsigned char c = (unsigned char)buf[i];
			if (is_space[c])
				break;
			if (c >= 'A' && c <= 'Z') {
				c = (unsigned char)(c + ('a' - 'A'));
				buf[i] = (char)c;
			}
			hash ^= c;
			hash *= FNV_PRIME;
		}
		increment(buf + start, i - start, hash);
	}
}

int main(int argc, char **argv)
{
	int fd = 0;
	if (argc > 2) {
		fputs("usage: countwords_ref [FILE]\n", stderr);
		return 2;
	}
	if (argc == 2 && (fd = open(argv[1], O_RDONLY)) < 0) {
		fprintf(stderr, "countwords_ref: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	slots = must(calloc(mask + 1, sizeof *slots));
	/* A word longer than a chunk grows the buffer rather than being cut. */
	size_t cap = CHUNK, have = 0;
	char *buf = must(malloc(cap));
	for (;;) {
		if (cap - have < CHUNK / 2)
			buf = must(realloc(buf, cap *= 2));
		ssize_t r = read(fd, buf + have, cap - have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fprintf(stderr, "countwords_ref: read: %s\n", strerror(errno));
			return 1;
		}
		if (r == 0) {
			scan(buf, have); /* the last word, with no separator after it */
			break;
		}
		have += (size_t)r;
		/* Up to the last separator; the word after it waits for more. */
		size_t cut = have;
		while (cut > 0 && !is_space[(unsigned char)buf[cut - 1]])
			cut--;
		scan(buf, cut);
		memmove(buf, buf + cut, have - cut);
		have -= cut;
	}
	free(buf);

	struct slot *ordered = must(malloc((used ? used : 1) * sizeof *ordered));
	size_t n = 0;
	for (size_t i = 0; i <= mask; i++)
		if (slots[i].word)
			ordered[n++] = slots[i];
	qsort(ordered, n, sizeof *ordered, by_count);
	for (size_t i = 0; i < n; i++)
		printf("%.*s %llu\n", (int)ordered[i].len, ordered[i].word,
		       (unsigned long long)ordered[i].count);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "countwords_ref: write: %s\n", strerror(errno));
		return 1;
	}
	return 0;
}
