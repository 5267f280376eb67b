/*
 * A response body's content coding (gzip, deflate, br, zstd), undone by
 * juggle itself rather than by libcurl, for two reasons a hostile server
 * makes pressing:
 *
 * - Time. libcurl decodes a whole read (64 KiB of a compression bomb can
 *   be gigabytes) inside one curl_multi_socket_action(), which no callback
 *   of ours can cut short; a decoder driven step by step can stop when
 *   the loop's slice is spent and go on in the next iteration.
 * - Memory. A brotli stream may ask for a 16 MiB window and a zstd frame
 *   for 128 MiB (libzstd's default limit). Every allocation a decoder
 *   makes is counted in the caller's budget and refused past it, and zstd
 *   windows are capped at 8 MiB, the limit RFC 9659 sets for HTTP.
 *
 * The libraries are the usual ones (zlib, libbrotlidec, libzstd); only
 * the driving is ours.
 */
#ifndef JG_DECODE_H
#define JG_DECODE_H

#include <stddef.h>
#include <stdint.h>

enum jg_coding {
	JG_CODING_IDENTITY = 0,
	JG_CODING_GZIP,
	JG_CODING_DEFLATE,     /* zlib-wrapped (RFC 9110), or raw as some send */
	JG_CODING_BR,
	JG_CODING_ZSTD,
};

/* The value of Accept-Encoding that offers every coding above. */
#define JG_ACCEPT_ENCODING "gzip, deflate, br, zstd"

/* The largest zstd window accepted (RFC 9659: 8 MiB). */
#define JG_ZSTD_WINDOW_LOG_MAX 23

/*
 * The coding a Content-Encoding value names: 0 and `*out`, or -1 for a
 * coding juggle cannot undo (compress, a stack of several, an unknown
 * name). "identity" and an empty value are JG_CODING_IDENTITY.
 */
int jg_coding_parse(const char *value, size_t len, enum jg_coding *out);
const char *jg_coding_name(enum jg_coding c);

/* What decoders may allocate, shared by every decoder of a budget. */
struct jg_decode_budget {
	_Atomic uint64_t *held;    /* bytes held in memory: allocations add to it */
	uint64_t limit;            /* an allocation past it fails */
};

/* What a decoder holds of its budget; on the heap, so that the decoder
 * itself may be copied (the threads engine moves transfers by value). */
struct jg_decode_acct {
	const struct jg_decode_budget *budget;
	uint64_t charged;
	int over_budget;           /* an allocation was refused */
};

struct jg_decoder {
	enum jg_coding coding;
	void *state;
	struct jg_decode_acct *acct;
	int header_seen;           /* deflate: zlib or raw, decided */
	int done;                  /* the coded stream ended */
};

/* 0, -1 when out of memory, -2 when over the budget; on failure nothing
 * is left to free. */
int jg_decoder_init(struct jg_decoder *d, enum jg_coding c, const struct jg_decode_budget *b);
void jg_decoder_fini(struct jg_decoder *d);
/* Whether the decoder failed for want of budget (not of good data). */
int jg_decoder_over_budget(const struct jg_decoder *d);

/*
 * Decodes from `*in` (`*in_len` bytes; both advanced past what was taken)
 * into `out`, at most `out_cap` bytes. Returns the bytes written (0 with
 * input left means "call again", never a loop: each call takes input or
 * gives output), or -1 with `why` filled when the data is not what its
 * coding says, or the decoder needs more memory than the budget allows
 * (jg_decoder_over_budget). Bytes after the end of the stream are ignored.
 */
long jg_decoder_step(struct jg_decoder *d, const uint8_t **in, size_t *in_len, uint8_t *out,
                     size_t out_cap, char *why, size_t why_len);

#endif
