#include "snapshot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void sync_file(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0) {
		fdatasync(fd);
		close(fd);
	}
}

int jg_snapshot_write(int jfd, const char *dir, const struct jg_counts *all,
                      struct jg_mf_seal *seal, int sync, char *why, size_t why_len)
{
	char name[64];
	jg_mf_snapshot_name(seal->gen, name, sizeof name);
	if (jg_counts_write_tsv_at(all, jfd, name) != JG_OK ||
	    jg_mf_file_crc(jfd, name, &seal->crc) < 0) {
		snprintf(why, why_len, "%.400s/%s/%s: %s", dir, JG_MF_DIR, name, strerror(errno));
		return -1;
	}
	if (sync)
		sync_file(jfd, name);
	return 0;
}

struct jg_counts *jg_snapshot_load(int jfd, const char *dir, const struct jg_manifest *m,
                                   char *why, size_t why_len)
{
	char name[64], err[JG_ERRBUF_SIZE];
	uint32_t crc;
	jg_mf_snapshot_name(m->seal.gen, name, sizeof name);
	if (jg_mf_file_crc(jfd, name, &crc) < 0) {
		snprintf(why, why_len, "%.400s/%s/%s: %s", dir, JG_MF_DIR, name, strerror(errno));
		return NULL;
	}
	if (crc != m->seal.crc) {
		snprintf(why, why_len, "%.400s/%s/%s: fails its checksum", dir, JG_MF_DIR, name);
		return NULL;
	}
	struct jg_counts *c = jg_counts_new();
	if (!c) {
		snprintf(why, why_len, "%.400s/%s/%s: out of memory", dir, JG_MF_DIR, name);
		return NULL;
	}
	if (jg_counts_read_tsv_at(c, jfd, name, err) != JG_OK) {
		snprintf(why, why_len, "%.400s/%s/%s", dir, JG_MF_DIR, err);
		jg_counts_free(c);
		return NULL;
	}
	if (jg_counts_total(c) != m->seal.words || jg_counts_distinct(c) != m->seal.distinct ||
	    !jg_mf_seal_consistent(m)) {
		snprintf(why, why_len, "%.400s/%s/%s: its totals differ from the manifest's", dir,
		         JG_MF_DIR, name);
		jg_counts_free(c);
		return NULL;
	}
	return c;
}

void jg_snapshot_remove_stale(int jfd, uint64_t keep_gen)
{
	int fd = dup(jfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	rewinddir(d);
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		uint64_t gen;
		char rest[8];
		if (sscanf(e->d_name, "counts.%" SCNu64 ".ts%1s", &gen, rest) == 2 && gen != keep_gen)
			unlinkat(jfd, e->d_name, 0);
	}
	closedir(d);
}
