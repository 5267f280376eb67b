#include "decode.h"

#include <brotli/decode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>
#include <zstd.h>

static const struct {
	const char *name;
	enum jg_coding coding;
} codings[] = {
	{"identity", JG_CODING_IDENTITY}, {"gzip", JG_CODING_GZIP}, {"x-gzip", JG_CODING_GZIP},
	{"deflate", JG_CODING_DEFLATE},   {"br", JG_CODING_BR},     {"zstd", JG_CODING_ZSTD},
};

int jg_coding_parse(const char *value, size_t len, enum jg_coding *out)
{
	while (len && (*value == ' ' || *value == '\t'))
		value++, len--;
	while (len && (value[len - 1] == ' ' || value[len - 1] == '\t' || value[len - 1] == '\r' ||
	               value[len - 1] == '\n'))
		len--;
	*out = JG_CODING_IDENTITY;
	if (len == 0)
		return 0;
	for (size_t i = 0; i < sizeof codings / sizeof *codings; i++)
		if (strlen(codings[i].name) == len && strncasecmp(value, codings[i].name, len) == 0) {
			*out = codings[i].coding;
			return 0;
		}
	return -1; /* "compress", "gzip, br" (stacked), anything else */
}

const char *jg_coding_name(enum jg_coding c)
{
	switch (c) {
	case JG_CODING_IDENTITY: return "identity";
	case JG_CODING_GZIP: return "gzip";
	case JG_CODING_DEFLATE: return "deflate";
	case JG_CODING_BR: return "br";
	case JG_CODING_ZSTD: return "zstd";
	}
	return "?";
}

/* ---- allocations, counted in the budget --------------------------------- */

/* Each block carries its size in front, for the free that does not. */
enum { BLOCK_HEAD = 16 };

static void *budget_alloc(struct jg_decode_acct *d, size_t n)
{
	const struct jg_decode_budget *b = d->budget;
	if (n > SIZE_MAX - BLOCK_HEAD)
		return NULL;
	if (b && *b->held + n > b->limit) {
		d->over_budget = 1;
		return NULL;
	}
	unsigned char *p = malloc(n + BLOCK_HEAD);
	if (!p)
		return NULL;
	memcpy(p, &n, sizeof n);
	d->charged += n;
	if (b)
		*b->held += n;
	return p + BLOCK_HEAD;
}

static void budget_free(struct jg_decode_acct *d, void *ptr)
{
	if (!ptr)
		return;
	unsigned char *p = (unsigned char *)ptr - BLOCK_HEAD;
	size_t n;
	memcpy(&n, p, sizeof n);
	d->charged -= n;
	if (d->budget)
		*d->budget->held -= n;
	free(p);
}

static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
	return budget_alloc(opaque, (size_t)items * size);
}

static void z_free(voidpf opaque, voidpf ptr)
{
	budget_free(opaque, ptr);
}

static void *br_alloc(void *opaque, size_t size)
{
	return budget_alloc(opaque, size);
}

static void br_free(void *opaque, void *ptr)
{
	budget_free(opaque, ptr);
}

/* zstd takes its memory itself: its size is charged after each step. */
static int zstd_charge(struct jg_decoder *dec)
{
	struct jg_decode_acct *d = dec->acct;
	size_t now = ZSTD_sizeof_DStream(dec->state);
	const struct jg_decode_budget *b = d->budget;
	if (b && now > d->charged && *b->held + (now - d->charged) > b->limit) {
		d->over_budget = 1;
		return -1;
	}
	if (b)
		*b->held += now - d->charged; /* wraps back when it shrank */
	d->charged = now;
	return 0;
}

int jg_decoder_over_budget(const struct jg_decoder *d)
{
	return d->acct && d->acct->over_budget;
}

/* ---- setting up --------------------------------------------------------- */

static int start(struct jg_decoder *d, enum jg_coding c)
{
	switch (c) {
	case JG_CODING_IDENTITY:
		return 0;
	case JG_CODING_GZIP:
	case JG_CODING_DEFLATE: {
		z_stream *z = calloc(1, sizeof *z);
		if (!z)
			return -1;
		z->zalloc = z_alloc;
		z->zfree = z_free;
		z->opaque = d->acct;
		/* gzip's wrapper; deflate's is chosen on its first bytes. */
		if (c == JG_CODING_GZIP && inflateInit2(z, 15 + 16) != Z_OK) {
			free(z);
			return -1;
		}
		d->state = z;
		return 0;
	}
	case JG_CODING_BR:
		d->state = BrotliDecoderCreateInstance(br_alloc, br_free, d->acct);
		return d->state ? 0 : -1;
	case JG_CODING_ZSTD:
		if (!(d->state = ZSTD_createDStream()))
			return -1;
		if (ZSTD_isError(ZSTD_DCtx_setParameter(d->state, ZSTD_d_windowLogMax,
		                                        JG_ZSTD_WINDOW_LOG_MAX)))
			return -1;
		return zstd_charge(d);
	}
	return -1;
}

int jg_decoder_init(struct jg_decoder *d, enum jg_coding c, const struct jg_decode_budget *b)
{
	memset(d, 0, sizeof *d);
	d->coding = c;
	if (c == JG_CODING_IDENTITY)
		return 0;
	if (!(d->acct = calloc(1, sizeof *d->acct)))
		return -1;
	d->acct->budget = b;
	if (start(d, c) == 0)
		return 0;
	int over = d->acct->over_budget;
	jg_decoder_fini(d);
	return over ? -2 : -1;
}

void jg_decoder_fini(struct jg_decoder *d)
{
	if (!d->state) {
		free(d->acct);
		d->acct = NULL;
		return;
	}
	switch (d->coding) {
	case JG_CODING_GZIP:
	case JG_CODING_DEFLATE:
		if (d->coding == JG_CODING_GZIP || d->header_seen)
			inflateEnd(d->state);
		free(d->state);
		break;
	case JG_CODING_BR:
		BrotliDecoderDestroyInstance(d->state);
		break;
	case JG_CODING_ZSTD:
		ZSTD_freeDStream(d->state);
		if (d->acct->budget)
			*d->acct->budget->held -= d->acct->charged;
		break;
	case JG_CODING_IDENTITY:
		break;
	}
	d->state = NULL;
	free(d->acct);
	d->acct = NULL;
}

/* ---- decoding ------------------------------------------------------------ */

/* Takes `n` bytes of input; none taken leaves a NULL `*in` as it is
 * (the drain calls with no input at all). */
static void advance(const uint8_t **in, size_t *in_len, size_t n)
{
	if (n) {
		*in += n;
		*in_len -= n;
	}
}

static long fail(struct jg_decoder *d, char *why, size_t why_len, const char *detail)
{
	if (jg_decoder_over_budget(d))
		snprintf(why, why_len, "%s: decoding needs more memory than the budget allows",
		         jg_coding_name(d->coding));
	else
		snprintf(why, why_len, "%s: %s", jg_coding_name(d->coding), detail);
	return -1;
}

/*
 * "deflate" should be zlib-wrapped (RFC 9110), but some servers send raw
 * deflate: a zlib header is two bytes whose value is a multiple of 31,
 * method 8. Decided once, on the first two bytes.
 */
static int deflate_start(struct jg_decoder *d, const uint8_t *in, size_t len)
{
	if (len < 2)
		return 1; /* wait for two bytes */
	int zlib = (in[0] & 0x0f) == 8 && ((in[0] << 8) | in[1]) % 31 == 0;
	if (inflateInit2(d->state, zlib ? 15 : -15) != Z_OK)
		return -1;
	d->header_seen = 1;
	return 0;
}

static long step_zlib(struct jg_decoder *d, const uint8_t **in, size_t *in_len, uint8_t *out,
                      size_t out_cap, char *why, size_t why_len)
{
	z_stream *z = d->state;
	if (d->coding == JG_CODING_DEFLATE && !d->header_seen) {
		int rc = deflate_start(d, *in, *in_len);
		if (rc < 0)
			return fail(d, why, why_len, "cannot start the decoder");
		if (rc > 0)
			return 0;
	}
	if (d->done) { /* gzip members may follow each other */
		if (d->coding != JG_CODING_GZIP || *in_len < 2 || (*in)[0] != 0x1f || (*in)[1] != 0x8b) {
			advance(in, in_len, *in_len);
			return 0;
		}
		inflateReset(z);
		d->done = 0;
	}
	z->next_in = (Bytef *)*in;
	z->avail_in = (uInt)(*in_len > UINT32_MAX ? UINT32_MAX : *in_len);
	z->next_out = out;
	z->avail_out = (uInt)(out_cap > UINT32_MAX ? UINT32_MAX : out_cap);
	int rc = inflate(z, Z_NO_FLUSH);
	size_t took = (size_t)(z->next_in - *in);
	advance(in, in_len, took);
	if (rc == Z_STREAM_END)
		d->done = 1;
	else if (rc != Z_OK && !(rc == Z_BUF_ERROR && took == 0))
		return fail(d, why, why_len, z->msg ? z->msg : rc == Z_MEM_ERROR ? "out of memory"
		                                                                    : "invalid data");
	return (long)(out_cap - z->avail_out);
}

static long step_br(struct jg_decoder *d, const uint8_t **in, size_t *in_len, uint8_t *out,
                    size_t out_cap, char *why, size_t why_len)
{
	if (d->done) {
		advance(in, in_len, *in_len);
		return 0;
	}
	size_t avail_out = out_cap;
	uint8_t *next_out = out;
	BrotliDecoderResult rc =
		BrotliDecoderDecompressStream(d->state, in_len, in, &avail_out, &next_out, NULL);
	if (rc == BROTLI_DECODER_RESULT_ERROR)
		return fail(d, why, why_len,
		            BrotliDecoderErrorString(BrotliDecoderGetErrorCode(d->state)));
	if (rc == BROTLI_DECODER_RESULT_SUCCESS)
		d->done = 1;
	return (long)(out_cap - avail_out);
}

static long step_zstd(struct jg_decoder *d, const uint8_t **in, size_t *in_len, uint8_t *out,
                      size_t out_cap, char *why, size_t why_len)
{
	ZSTD_inBuffer ib = {*in, *in_len, 0};
	ZSTD_outBuffer ob = {out, out_cap, 0};
	size_t rc = ZSTD_decompressStream(d->state, &ob, &ib);
	advance(in, in_len, ib.pos);
	if (ZSTD_isError(rc))
		return fail(d, why, why_len, ZSTD_getErrorName(rc));
	if (zstd_charge(d) < 0)
		return fail(d, why, why_len, "");
	d->done = rc == 0; /* a frame ended; another may follow */
	return (long)ob.pos;
}

long jg_decoder_step(struct jg_decoder *d, const uint8_t **in, size_t *in_len, uint8_t *out,
                     size_t out_cap, char *why, size_t why_len)
{
	switch (d->coding) {
	case JG_CODING_IDENTITY: {
		size_t n = *in_len < out_cap ? *in_len : out_cap;
		if (n) /* *in may be NULL when there is no input */
			memcpy(out, *in, n);
		advance(in, in_len, n);
		return (long)n;
	}
	case JG_CODING_GZIP:
	case JG_CODING_DEFLATE:
		return step_zlib(d, in, in_len, out, out_cap, why, why_len);
	case JG_CODING_BR:
		return step_br(d, in, in_len, out, out_cap, why, why_len);
	case JG_CODING_ZSTD:
		return step_zstd(d, in, in_len, out, out_cap, why, why_len);
	}
	return fail(d, why, why_len, "unknown coding");
}
