/* Command-line settings, shared read-only by every part of the server. */
#ifndef JG_CONFIG_H
#define JG_CONFIG_H

#include <stdint.h>

/* --route PATH?QUERY: a request for PATH without a query of its own is
 * answered as if it carried QUERY (a robots.txt a client asks for by its
 * fixed name, made slow, failing or redirected). */
#define JG_ROUTES_MAX 16
struct jg_route_alias {
    const char *spec;       /* "PATH?QUERY", as given */
    size_t path_len;        /* up to the '?' */
};

struct jg_config {
    const char *bind;       /* numeric address or "localhost" */
    unsigned port;          /* 0: ephemeral */
    const char *root;       /* NULL: no files, only generated content */
    const char *log_path;
    const char *port_file;
    uint64_t delay_ms;      /* defaults for the delay= and rate= params */
    uint64_t rate;
    uint64_t book_size;
    double idle_timeout;    /* seconds a keep-alive connection may idle */
    struct jg_route_alias routes[JG_ROUTES_MAX];
    unsigned n_routes;
    /* The one field that changes: SIGUSR1 adds one, and every generated
     * body (its bytes and its ETag) is then another. */
    uint64_t generation;
};

#endif
