/*
 * Frames on the pipes between the loop and the workers, one codec for both
 * sides. A frame is a 16-byte header (big-endian: magic "JG", version,
 * type, id, payload length, flags) and a payload read through a cursor that
 * checks every bound, so a torn or garbage stream is rejected, never
 * trusted.
 */
#ifndef JG_PROTO_H
#define JG_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define JG_FRAME_MAGIC 0x4A47u
/* 2: RESULT carries the saved file's SHA-256. 3: BOOK carries the HTTP
 * charset, RESULT the charset decision. */
#define JG_FRAME_VERSION 3
#define JG_FRAME_HEADER 16
/* A body may be 256 MiB by default and up to what --max-size allows. */
#define JG_FRAME_MAX (1u << 30)

enum jg_frame_type {
	/* loop -> worker */
	JG_FRAME_BOOK = 1,       /* save then count: dir, name, body */
	JG_FRAME_RECOUNT = 2,    /* count a saved file again: its path */
	JG_FRAME_FLUSH = 3,      /* send the running table now */
	/* worker -> loop */
	JG_FRAME_RESULT = 16,    /* one book's outcome and figures */
	JG_FRAME_TABLE = 17,     /* a chunk of the running table */
	JG_FRAME_TABLE_END = 18, /* the table is complete: merge it */
};

/* Book flags, in the header's flags field. */
enum {
	JG_BOOK_WHITESPACE = 1 << 0,     /* --split whitespace */
	JG_BOOK_KEEP_BOILERPLATE = 1 << 1,
	JG_BOOK_NO_COUNT = 1 << 2,       /* save only */
	JG_BOOK_HTML = 1 << 3,           /* text/html: no Gutenberg boilerplate */
	JG_BOOK_NO_TABLE = 1 << 4,       /* its figures only: not in the running table */
	JG_BOOK_TOP_SHIFT = 16,          /* top N in the high 16 bits */
};

struct jg_frame_header {
	uint8_t type;
	uint32_t id;
	uint32_t length;
	uint32_t flags;
};

void jg_frame_encode_header(uint8_t out[JG_FRAME_HEADER], const struct jg_frame_header *h);
/* 1: a valid header in `h`; 0: fewer than 16 bytes; -1: not a frame. */
int jg_frame_decode_header(const uint8_t *buf, size_t len, struct jg_frame_header *h);

struct jg_writer;

/* A bounds-checked reader over a payload: reads past the end set `bad`. */
struct jg_cursor {
	const uint8_t *p;
	size_t left;
	int bad;
};

void jg_cursor_init(struct jg_cursor *c, const void *buf, size_t len);
uint16_t jg_get_u16(struct jg_cursor *c);
uint32_t jg_get_u32(struct jg_cursor *c);
uint64_t jg_get_u64(struct jg_cursor *c);
/* `n` bytes in place, or NULL (and `bad`) when fewer are left. */
const uint8_t *jg_get_bytes(struct jg_cursor *c, size_t n);

/* Payloads, decoded in place (pointers into the payload, not terminated). */
struct jg_msg_book {           /* BOOK and RECOUNT */
	const char *dir, *name, *charset, *body;
	size_t dir_len, name_len, charset_len, body_len;
	uint64_t expect_size, expect_ino; /* RECOUNT: the file that was checked */
};

/* The longest charset name a frame carries. */
#define JG_MSG_CHARSET_MAX 40

#define JG_MSG_TOP_MAX 64
#define JG_MSG_WORD_MAX 1024

struct jg_msg_result {
	int err;
	uint64_t words, distinct;
	size_t n_top;
	struct {
		const char *word;
		size_t len;
		uint64_t count;
	} top[JG_MSG_TOP_MAX];
	const char *error;
	size_t error_len;
	uint8_t sha256[32];    /* of the saved file; zero on failure */
	const char *charset;   /* the charset it was read in; empty when not */
	size_t charset_len;
	uint8_t charset_from;  /* enum jg_charset_from; 0 when not counted */
	const char *note;      /* why a named charset was passed over */
	size_t note_len;
};

/*
 * A BOOK or RECOUNT frame's header and fields, all but the body that
 * follows them: `out` holds jg_msg_book_meta_len() bytes; `h->length` is
 * filled in. -1 when a field is too long for the frame.
 */
size_t jg_msg_book_meta_len(const struct jg_msg_book *m);
int jg_msg_book_encode_meta(uint8_t *out, struct jg_frame_header *h, const struct jg_msg_book *m);
/* A RESULT frame's payload, appended to `w`. */
void jg_msg_result_encode(struct jg_writer *w, const struct jg_msg_result *m);

/* A TABLE frame goes over in chunks of about this many bytes: some 1,000
 * words, which the loop takes in at once (a fraction of its slice). */
#define JG_MSG_TABLE_CHUNK (16u << 10)
/*
 * A running table as TABLE frames, then a TABLE_END: jg_msg_table_begin(),
 * then jg_msg_table_add() per entry; when that returns 1 the chunk is full:
 * jg_msg_table_seal() it (which fills in its entry count), send it and
 * begin the next. A last chunk with entries is sealed too, then
 * jg_msg_table_end() makes the TABLE_END frame.
 */
void jg_msg_table_begin(struct jg_writer *w);
int jg_msg_table_add(struct jg_writer *w, const char *word, size_t len, uint64_t count);
void jg_msg_table_seal(struct jg_writer *w);
void jg_msg_table_end(struct jg_writer *w);
/* A FLUSH frame: a header alone. */
void jg_msg_flush_encode(uint8_t out[JG_FRAME_HEADER]);

/* Each returns 0, or -1 when the payload is not well formed. */
int jg_msg_book_decode(const uint8_t *payload, size_t len, struct jg_msg_book *m);
int jg_msg_result_decode(const uint8_t *payload, size_t len, struct jg_msg_result *m);
/* Calls `fn` per entry of a TABLE payload; stops at its first non-zero. */
int jg_msg_table_decode(const uint8_t *payload, size_t len,
                        int (*fn)(void *ctx, const char *word, size_t len, uint64_t count),
                        void *ctx);

/* A growable writer for payloads. */
struct jg_writer {
	uint8_t *buf;
	size_t len, cap;
	int failed;    /* an allocation failed; the content is incomplete */
	uint32_t entries; /* of the TABLE chunk being written */
};

void jg_writer_init(struct jg_writer *w);
void jg_writer_fini(struct jg_writer *w);
void jg_put_u16(struct jg_writer *w, uint16_t v);
void jg_put_u32(struct jg_writer *w, uint32_t v);
void jg_put_u64(struct jg_writer *w, uint64_t v);
void jg_put_bytes(struct jg_writer *w, const void *p, size_t n);
/* Reserves room for a header at the start; jg_writer_seal() fills it. */
void jg_writer_begin_frame(struct jg_writer *w);
void jg_writer_seal(struct jg_writer *w, uint8_t type, uint32_t id, uint32_t flags);

#endif
