/*
 * libFuzzer target: arbitrary bytes read as the stream a pipe delivers.
 * Headers are decoded, and each whole frame's payload goes through the
 * decoder the other side would use. Nothing may read out of bounds.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int sum_entry(void *ctx, const char *word, size_t len, uint64_t count)
{
	uint64_t *sum = ctx;
	for (size_t i = 0; i < len; i++)
		*sum += (unsigned char)word[i];
	*sum += count;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;
	uint64_t sum = 0;
	for (;;) {
		struct jg_frame_header h;
		int rc = jg_frame_decode_header(data + off, size - off, &h);
		if (rc <= 0 || size - off - JG_FRAME_HEADER < h.length)
			break;
		const uint8_t *payload = data + off + JG_FRAME_HEADER;
		struct jg_msg_book b;
		struct jg_msg_result r;
		switch (h.type) {
		case JG_FRAME_BOOK:
		case JG_FRAME_RECOUNT:
			if (jg_msg_book_decode(payload, h.length, &b) == 0)
				sum += (unsigned char)(b.dir_len ? b.dir[b.dir_len - 1] : 0) + b.body_len;
			break;
		case JG_FRAME_RESULT:
			if (jg_msg_result_decode(payload, h.length, &r) == 0)
				for (size_t i = 0; i < r.n_top; i++)
					sum += r.top[i].len ? (unsigned char)r.top[i].word[r.top[i].len - 1] : 0;
			break;
		case JG_FRAME_TABLE:
			jg_msg_table_decode(payload, h.length, sum_entry, &sum);
			break;
		default:
			break;
		}
		off += JG_FRAME_HEADER + h.length;
	}
	return sum == 1 ? 0 : 0; /* keeps `sum` observable */
}
