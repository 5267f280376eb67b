/*
 * bookgen_dump: write a generated Gutenberg-like corpus to disk in mirror
 * layout, for benchmarks that serve it with jg-testserver --root or nginx.
 *
 *   bookgen_dump DIR N SIZE
 *
 * writes DIR/cache/epub/<i>/pg<i>.txt for i = 1..N, each SIZE bytes of
 * generated book i (tests/server/bookgen.h), so the file is byte for byte
 * what jg-testserver would generate for that path with --book-size SIZE.
 */
#include "bookgen.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

static int make_dir(const char *path)
{
	if (mkdir(path, 0755) == 0 || errno == EEXIST)
		return 0;
	fprintf(stderr, "bookgen_dump: mkdir %s: %s\n", path, strerror(errno));
	return -1;
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-')
		return -1;
	*out = v;
	return 0;
}

/* Writes book `book` of `size` bytes to `path`. */
static int write_book(const char *path, uint64_t book, uint64_t size)
{
	static char buf[1 << 16];
	FILE *fp = fopen(path, "wb");
	if (!fp) {
		fprintf(stderr, "bookgen_dump: %s: %s\n", path, strerror(errno));
		return -1;
	}
	uint64_t off = 0;
	while (off < size) {
		size_t n = jg_bookgen_read(book, size, off, buf, sizeof buf);
		if (n == 0 || fwrite(buf, 1, n, fp) != n)
			break;
		off += n;
	}
	if (fclose(fp) != 0 || off != size) {
		fprintf(stderr, "bookgen_dump: %s: short write\n", path);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t n, size;
	if (argc != 4 || parse_u64(argv[2], &n) || parse_u64(argv[3], &size) || n == 0) {
		fprintf(stderr, "usage: bookgen_dump DIR N SIZE\n"
		                "writes DIR/cache/epub/<i>/pg<i>.txt, i = 1..N, SIZE bytes each\n");
		return 2;
	}
	const char *root = argv[1];
	char path[PATH_MAX];
	const char *parts[] = {"", "/cache", "/cache/epub"};
	for (size_t i = 0; i < sizeof parts / sizeof *parts; i++) {
		snprintf(path, sizeof path, "%s%s", root, parts[i]);
		if (make_dir(path))
			return 1;
	}
	for (uint64_t i = 1; i <= n; i++) {
		snprintf(path, sizeof path, "%s/cache/epub/%" PRIu64, root, i);
		if (make_dir(path))
			return 1;
		snprintf(path, sizeof path, "%s/cache/epub/%" PRIu64 "/pg%" PRIu64 ".txt", root, i, i);
		if (write_book(path, i, size))
			return 1;
	}
	return 0;
}
