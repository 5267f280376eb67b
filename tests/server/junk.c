#include "junk.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define FILLER "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz" \
               "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuv"

void jg_junk_fill(struct jg_junk *j, char *dst, size_t n)
{
    size_t done = 0;

    while (done < n) {
        if (j->off == j->len) {
            int w = snprintf(j->buf, sizeof j->buf,
                             "X-Junk-%" PRIu64 ": %s\r\n", ++j->line, FILLER);
            j->len = w > 0 ? (size_t)w : 0;
            j->off = 0;
        }
        size_t k = j->len - j->off;
        if (k > n - done)
            k = n - done;
        memcpy(dst + done, j->buf + j->off, k);
        j->off += k;
        done += k;
    }
    j->sent += n;
}
