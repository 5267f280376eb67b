/* Serialises one response: head, then payload (optionally content-coded)
 * with its framing, then junk header or trailer lines if the plan wants
 * them, honouring a per-batch byte budget (for throttling) and the plan's
 * cut point.  No I/O here: the connection hands in buffers and writes them
 * out, so the byte accounting stays testable and in one place. */
#ifndef JG_STREAM_H
#define JG_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "enc.h"
#include "junk.h"
#include "route.h"

struct jg_stream {
    const struct jg_plan *plan;
    char *head;
    size_t head_len;
    bool head_done;
    struct jg_enc *enc;
    uint64_t produced;    /* payload (content-coded) bytes emitted */
    uint64_t limit;       /* payload bytes allowed before the cut */
    uint64_t promised;    /* payload a clen= head announced, else 0 */
    bool eof;             /* no payload left */
    bool terminated;      /* last-chunk written, or none needed */
    bool junking;         /* emitting junk field lines, never the end */
    bool failed;          /* body source or encoder broke */
    struct jg_junk junk;
};

/* Takes ownership of head.  Returns -1 if the encoder cannot be set up. */
int jg_stream_init(struct jg_stream *s, const struct jg_plan *plan,
                   char *head, size_t head_len);
void jg_stream_release(struct jg_stream *s);
/* Frees the encoder once nothing more will be produced (a stall). */
void jg_stream_drop_encoder(struct jg_stream *s);

/* Buffer size worth allocating for this response's batches. */
size_t jg_stream_batch_cap(const struct jg_stream *s);

/* Writes the next batch into buf and returns its length.  At most budget
 * paced bytes (payload and junk lines) are emitted, framing and head come
 * on top; *payload receives how many payload bytes were.  A zero return
 * with neither done nor cut means "call again": the budget is exhausted
 * or the encoder needs more rounds. */
size_t jg_stream_fill(struct jg_stream *s, char *buf, size_t cap,
                      uint64_t budget, size_t *payload);

/* Bytes that rate= paces: payload plus junk lines. */
uint64_t jg_stream_paced(const struct jg_stream *s);

/* Everything, framing included, has been emitted. */
bool jg_stream_done(const struct jg_stream *s);
/* How the response is to be cut now, JG_CUT_NONE if it is not: the plan's
 * cut point was reached before the end of the payload, the payload ended
 * short of a clen= promise (the plan's cut, else a clean close), or the
 * junk limit was reached (a clean close). */
enum jg_cut jg_stream_cut(const struct jg_stream *s);

#endif
