/*
 * The sealed count snapshot, DIR/.juggle/counts.GEN.tsv: the word table of
 * every book a seal covers. A run's seal writes it; the next run over the
 * directory (resume) and `juggle merge` verify and load it. The manifest's
 * S record names its generation and holds its CRC-32 and totals: this file
 * is trusted only when all three agree with it.
 */
#ifndef JG_SNAPSHOT_H
#define JG_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "juggle.h"
#include "manifest.h"

/*
 * Writes `all` as generation seal->gen in `jfd` (DIR/.juggle, `dir` for
 * messages) and sets seal->crc; `sync`: fdatasync it too (a final seal;
 * a checkpoint does not, since fsync would block the loop). 0, or -1 with
 * the reason, naming the file, in `why`.
 */
int jg_snapshot_write(int jfd, const char *dir, const struct jg_counts *all,
                      struct jg_mf_seal *seal, int sync, char *why, size_t why_len);

/*
 * The snapshot manifest `m`'s seal names, checked against the seal's CRC
 * and totals. The table (the caller frees it), or NULL with the reason,
 * naming the file, in `why`.
 */
struct jg_counts *jg_snapshot_load(int jfd, const char *dir, const struct jg_manifest *m,
                                   char *why, size_t why_len);

/* Removes the snapshots no seal refers to: other generations, cut short. */
void jg_snapshot_remove_stale(int jfd, uint64_t keep_gen);

#endif
