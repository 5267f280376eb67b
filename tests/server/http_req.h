/* HTTP/1.x request head parsing.  The parser is stateless: it is handed the
 * whole input buffer each time and either finds a complete head or asks for
 * more bytes, which keeps the connection code free of parser state. */
#ifndef JG_HTTP_REQ_H
#define JG_HTTP_REQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "slice.h"

enum http_parse_status {
    HTTP_PARSE_OK,
    HTTP_PARSE_INCOMPLETE,
    HTTP_PARSE_BAD,          /* 400 */
    HTTP_PARSE_TOO_LARGE,    /* 431 */
    HTTP_PARSE_BAD_VERSION,  /* 505 */
};

/* All slices point into the buffer given to http_parse_request(). */
struct http_req {
    struct jg_slice method;
    struct jg_slice target;  /* exactly as sent */
    struct jg_slice path;    /* origin path, without query */
    struct jg_slice query;   /* after '?', empty if none */
    struct jg_slice host;
    struct jg_slice ua;
    struct jg_slice accept_encoding;
    struct jg_slice if_none_match;
    struct jg_slice if_modified_since;
    struct jg_slice range;
    struct jg_slice if_range;
    struct jg_slice x_test;  /* X-Test: what a client's own header says */
    unsigned accept_encoding_lines;
    int minor;               /* HTTP/1.<minor> */
    bool keep_alive;
    bool chunked_body;       /* request body of unknown length follows */
    uint64_t content_length;
    size_t head_len;         /* bytes of the head, blank line included */
};

enum http_parse_status http_parse_request(const char *buf, size_t len,
                                          size_t max_head,
                                          struct http_req *req);

#endif
