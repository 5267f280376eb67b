/*
 * Proxies: which one a URL goes through, what curl is told about it, and
 * what a failure of the proxy (rather than of the server) looks like.
 *
 * Names are resolved on the loop (resolve.h), proxy or not, so that curl
 * never starts its resolver thread:
 *   - the proxy's own host name is resolved by c-ares and handed to curl
 *     as a CURLOPT_RESOLVE entry for its host:port;
 *   - through an http://, https:// or socks5h:// proxy the server's name
 *     is the proxy's to resolve: juggle does not look it up, and curl only
 *     passes it on (a request line, CONNECT, or a SOCKS5 name);
 *   - through socks5:// curl must send an address: the server's name is
 *     resolved by c-ares exactly as for a direct request.
 * A URL whose host the no-proxy list names goes direct, as without one.
 */
#ifndef JG_PROXY_H
#define JG_PROXY_H

#include <stddef.h>

#include "noproxy.h"
#include "url.h"

enum jg_proxy_type { JG_PROXY_HTTP, JG_PROXY_HTTPS, JG_PROXY_SOCKS5, JG_PROXY_SOCKS5H };

struct jg_proxy {
	enum jg_proxy_type type;
	char *curl_url;  /* for CURLOPT_PROXY: scheme, credentials, host, port */
	char *shown;     /* for messages: "scheme://host:port", no credentials */
	char *host;      /* lower case; an IPv6 literal keeps its brackets */
	long port;       /* explicit, or curl's default: 1080 (https: 443) */
	int is_ip;       /* an address literal: nothing to resolve */
};

/*
 * Parses [SCHEME://][USER[:PASSWORD]@]HOST[:PORT][/] with SCHEME http (the
 * default), https, socks5 or socks5h. 0 and `out` filled (free with
 * jg_proxy_fini), or -1 with the reason in `why`.
 */
int jg_proxy_parse(const char *text, struct jg_proxy *out, char *why, size_t why_len);
void jg_proxy_fini(struct jg_proxy *p);
/* 1 when curl needs the server's address (socks5), 0 when the proxy
 * resolves the server's name. */
int jg_proxy_wants_address(const struct jg_proxy *p);

/* A session's proxies, one per URL scheme, and the hosts that go direct. */
struct jg_proxies {
	struct jg_proxy http, https; /* host NULL: none for that scheme */
	struct jg_noproxy direct;
};

/*
 * `http` and `https` are the proxies of http:// and https:// URLs (NULL
 * or "": none), `noproxy` the list of jg_noproxy_parse. 0, or -1 with
 * `why` (which names the part at fault).
 */
int jg_proxies_init(struct jg_proxies *ps, const char *http, const char *https,
                    const char *noproxy, char *why, size_t why_len);
void jg_proxies_fini(struct jg_proxies *ps);
/* The proxy `u` goes through, or NULL: direct. */
const struct jg_proxy *jg_proxies_route(const struct jg_proxies *ps, const struct jg_url *u);

/* What a finished transfer through a proxy says about the proxy. */
struct jg_proxy_attempt {
	int curl_code;          /* CURLcode */
	long connect_code;      /* the proxy's answer to CONNECT; 0 if none */
	long proxy_error;       /* CURLINFO_PROXY_ERROR (a SOCKS failure) */
	long http_code;
	const char *curl_error; /* curl's error buffer, may be "" */
};

/*
 * JG_EPROXY with `why` ("proxy http://h:3128: CONNECT refused (403)") and
 * whether a retry may help, when the proxy failed or refused; JG_OK when
 * the attempt went through the proxy (whatever the server then said).
 * The proxy's failures are never the server's: they do not count against
 * its host.
 */
int jg_proxy_classify(const struct jg_proxy *p, const struct jg_proxy_attempt *a, char *why,
                      size_t why_len, int *transient);

/*
 * The variables curl reads, in curl's order: for http:// URLs http_proxy
 * (never HTTP_PROXY, which a CGI program may get from a request's Proxy
 * header), for https:// ones https_proxy then HTTPS_PROXY, for both then
 * all_proxy, ALL_PROXY; the hosts that go direct in no_proxy, NO_PROXY.
 * An empty variable counts as unset. `get` is getenv(3) but for tests.
 * Each value is NULL when no variable gave one; `*_var` names the one that
 * did.
 */
struct jg_proxy_env {
	const char *http, *https, *noproxy;
	const char *http_var, *https_var, *noproxy_var;
};
void jg_proxy_env_read(struct jg_proxy_env *out, char *(*get)(const char *name));

#endif
