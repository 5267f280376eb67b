/* URL checks: what juggle accepts, where it goes, what it is called. */
#ifndef JG_URL_H
#define JG_URL_H

#include <stddef.h>

struct jg_url {
	char *url;       /* normalized by libcurl's URL parser, no #fragment */
	char *host;      /* lower case; an IPv6 literal keeps its brackets */
	long port;       /* explicit or the scheme's default */
	int is_ip;       /* host is an address literal: nothing to resolve */
	int is_https;
	char *basename;  /* last path segment, percent-decoded (may be empty;
	                    may hold any byte but NUL: made safe by the store) */
};

/*
 * Parses `text` and checks that it is an absolute http(s) URL. Returns
 * JG_OK and fills `out` (free with jg_url_fini), or JG_EURL / JG_ESCHEME /
 * JG_ETOOLONG / JG_ENOMEM with the reason in `why` (`why_len` bytes).
 */
int jg_url_parse(const char *text, struct jg_url *out, char *why, size_t why_len);
void jg_url_fini(struct jg_url *u);
/*
 * The parts of `url`, a URL jg_url_parse() gave as out->url, from what
 * was kept of that parse: `host_port`, its "host:port" as the session
 * keys hosts ("%s:%ld" of out->host and out->port). No parse: a book's
 * URL, parsed when it was added, need not be parsed again when it
 * starts. basename is left NULL. JG_OK, JG_EINVAL (`host_port` has no
 * port) or JG_ENOMEM.
 */
int jg_url_from_host_port(const char *url, const char *host_port, struct jg_url *out);

/*
 * When `text` is a bare Project Gutenberg ebook number, writes the mirror's
 * URL of its plain text into `out` and returns 1; returns 0 otherwise.
 */
/* 1 when `text` is a bare ebook number (1 to 9 digits). */
int jg_url_is_ebook(const char *text);
int jg_url_expand_ebook(const char *text, const char *mirror, char *out, size_t out_len);

#endif
