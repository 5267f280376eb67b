/*
 * libFuzzer target: arbitrary bytes as a coded response body. The first
 * byte picks the coding and the sizes of the reads and of the output
 * buffer, the second the memory budget; the rest is the body, handed to
 * jg_decoder_step() read by read as a transfer does.
 *
 * Checked: no call writes past the room it was given or takes more than
 * it was given; every call that has room and input (two bytes of it for
 * deflate, which decides zlib or raw on them) either fails, takes input
 * or gives output, since a call that does neither would spin the loop;
 * a failure says why; the memory a decoder holds never passes its
 * budget and all of it is given back by jg_decoder_fini(); the identity
 * coding gives back what it was given; and a call with no input at all
 * (a NULL pointer, as the drain makes) reads nothing. Output is cut at 64 MiB:
 * a bomb is not the point here, its budget is.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_decode: invariant violated: %s\n", what);
		abort();
	}
}

enum { OUTPUT_MAX = 64 << 20 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	static const enum jg_coding codings[] = {JG_CODING_IDENTITY, JG_CODING_GZIP,
	                                         JG_CODING_DEFLATE, JG_CODING_BR, JG_CODING_ZSTD};
	enum jg_coding coding = codings[(data[0] & 7) % 5];
	size_t read_size = (size_t)1 << ((data[0] >> 3) & 7);    /* 1 B .. 128 B */
	size_t out_cap = (size_t)1 << (4 + ((data[0] >> 6) & 3) * 4); /* 16 B .. 64 KiB */
	_Atomic uint64_t held = 0;
	struct jg_decode_budget budget = {&held, (uint64_t)1 << (12 + data[1] % 16)};
	const uint8_t *body = data + 2;
	size_t body_len = size - 2;

	struct jg_decoder d;
	int rc = jg_decoder_init(&d, coding, &budget);
	check(rc == 0 || rc == -1 || rc == -2, "init: another result");
	check(held <= budget.limit, "init: over the budget");
	if (rc < 0) {
		check(held == 0, "init failed but holds memory");
		return 0;
	}
	uint8_t *out = malloc(out_cap + 1);
	{
		/* The drain calls with no input at all (NULL, 0) to empty a full
		 * decoder: nothing may be read from it. */
		const uint8_t *none = NULL;
		size_t zero = 0;
		char why[128] = "";
		if (!out)
			abort();
		long got = jg_decoder_step(&d, &none, &zero, out, out_cap, why, sizeof why);
		check(got == 0 && none == NULL && zero == 0, "step: something from no input");
	}
	uint8_t *copy = coding == JG_CODING_IDENTITY ? malloc(body_len + 1) : NULL;
	if (!out || (coding == JG_CODING_IDENTITY && !copy))
		abort();
	size_t given = 0, total = 0;
	int failed = 0;
	const uint8_t *in = body;
	size_t in_len = 0; /* what the current read has left */
	while (!failed && total < OUTPUT_MAX) {
		if (in_len < 2 && given < body_len) { /* the next read, joined to what is left */
			size_t n = body_len - given < read_size ? body_len - given : read_size;
			in = body + given - in_len;
			in_len += n;
			given += n;
		}
		if (in_len == 0)
			break;
		const uint8_t *before = in;
		size_t before_len = in_len;
		out[out_cap] = 0xa5;
		char why[128] = "";
		long got = jg_decoder_step(&d, &in, &in_len, out, out_cap, why, sizeof why);
		check(out[out_cap] == 0xa5, "step: wrote past the room given");
		check(held <= budget.limit, "step: over the budget");
		if (got < 0) {
			check(why[0] != '\0', "step: failed without a reason");
			failed = 1;
			break;
		}
		size_t took = before_len - in_len;
		check((size_t)got <= out_cap, "step: gave more than the room");
		check(in == before + took && took <= before_len, "step: took more than given");
		int room = coding != JG_CODING_DEFLATE || before_len >= 2;
		if (got == 0 && took == 0) {
			/* Nothing done: only right when no read is left to come and
			 * the decoder is waiting for more than the body has. */
			check(!room || given == body_len, "step: neither took input nor gave output");
			if (given == body_len)
				break;
		}
		if (coding == JG_CODING_IDENTITY)
			memcpy(copy + total, out, (size_t)got);
		total += (size_t)got;
		if (in_len == 0 && given == body_len && got == 0)
			break;
	}
	if (coding == JG_CODING_IDENTITY)
		check(!failed && total == body_len && memcmp(copy, body, body_len) == 0,
		      "identity: not what was given");
	jg_decoder_fini(&d);
	check(held == 0, "fini: memory still held");
	free(copy);
	free(out);
	return 0;
}
