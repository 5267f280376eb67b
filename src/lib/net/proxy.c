#include "proxy.h"

#include "juggle.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* curl's default ports when the URL names none (CURL_DEFAULT_PROXY_PORT,
 * CURL_DEFAULT_HTTPS_PROXY_PORT): what curl would use, so that the
 * CURLOPT_RESOLVE entry made for host:port is the one curl looks for. */
static const struct {
	const char *scheme;
	enum jg_proxy_type type;
	long port;
} schemes[] = {
	{"http", JG_PROXY_HTTP, 1080},
	{"https", JG_PROXY_HTTPS, 443},
	{"socks5", JG_PROXY_SOCKS5, 1080},
	{"socks5h", JG_PROXY_SOCKS5H, 1080},
};

__attribute__((format(printf, 3, 4)))
static int fail(char *why, size_t why_len, const char *fmt, ...)
{
	if (why && why_len) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, why_len, fmt, ap);
		va_end(ap);
	}
	return -1;
}

void jg_proxy_fini(struct jg_proxy *p)
{
	free(p->curl_url);
	free(p->shown);
	free(p->host);
	memset(p, 0, sizeof *p);
}

static int host_is_ip(const char *host)
{
	unsigned char addr[16];
	return host[0] == '[' || inet_pton(AF_INET, host, addr) == 1;
}

/* A part the URL has (1), has not (0), or -1 when curl failed otherwise. */
static int get_part(CURLU *h, CURLUPart what, char **out)
{
	*out = NULL;
	CURLUcode rc = curl_url_get(h, what, out, 0);
	if (rc == CURLUE_OK)
		return 1;
	switch (rc) {
	case CURLUE_NO_USER:
	case CURLUE_NO_PASSWORD:
	case CURLUE_NO_PORT:
	case CURLUE_NO_QUERY:
	case CURLUE_NO_FRAGMENT:
	case CURLUE_NO_HOST:
		return 0;
	default:
		return -1;
	}
}

static int https_proxy_supported(void)
{
	const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
	return v && (v->features & CURL_VERSION_HTTPS_PROXY);
}

/* Scheme, port and the two strings made of them; the parts are curl's. */
static int fill(struct jg_proxy *out, const char *scheme, const char *user, const char *pass,
                const char *port, char *why, size_t why_len)
{
	size_t i = 0;
	while (i < sizeof schemes / sizeof *schemes && strcmp(schemes[i].scheme, scheme) != 0)
		i++;
	if (i == sizeof schemes / sizeof *schemes)
		return fail(why, why_len, "scheme '%.40s' not supported (http, https, socks5, socks5h)",
		            scheme);
	if (schemes[i].type == JG_PROXY_HTTPS && !https_proxy_supported())
		return fail(why, why_len, "this libcurl cannot talk TLS to a proxy (https://)");
	out->type = schemes[i].type;
	out->port = port ? strtol(port, NULL, 10) : schemes[i].port;
	if (out->port < 1 || out->port > 65535)
		return fail(why, why_len, "port %ld out of range (1 to 65535)", out->port);
	for (char *p = out->host; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	out->is_ip = host_is_ip(out->host);
	if (asprintf(&out->shown, "%s://%s:%ld", scheme, out->host, out->port) < 0) {
		out->shown = NULL;
		return fail(why, why_len, "out of memory");
	}
	/* Credentials stay as the URL had them (percent-encoded): curl
	 * decodes them and sends them to the proxy, never anywhere else. */
	if (asprintf(&out->curl_url, "%s://%s%s%s%s%s:%ld", scheme, user ? user : "",
	             pass ? ":" : "", pass ? pass : "", user || pass ? "@" : "", out->host,
	             out->port) < 0) {
		out->curl_url = NULL;
		return fail(why, why_len, "out of memory");
	}
	return 0;
}

static int parse_parts(CURLU *h, struct jg_proxy *out, char *why, size_t why_len)
{
	char *scheme = NULL, *user = NULL, *pass = NULL, *port = NULL, *path = NULL, *query = NULL,
	     *frag = NULL, *host = NULL;
	int rc = -1;
	int has_host = get_part(h, CURLUPART_HOST, &host);
	if (get_part(h, CURLUPART_SCHEME, &scheme) <= 0 || has_host < 0 ||
	    get_part(h, CURLUPART_USER, &user) < 0 || get_part(h, CURLUPART_PASSWORD, &pass) < 0 ||
	    get_part(h, CURLUPART_PORT, &port) < 0 || get_part(h, CURLUPART_PATH, &path) < 0 ||
	    get_part(h, CURLUPART_QUERY, &query) < 0 || get_part(h, CURLUPART_FRAGMENT, &frag) < 0) {
		fail(why, why_len, "malformed URL");
		goto done;
	}
	if (!has_host || !host[0]) {
		fail(why, why_len, "no host name");
		goto done;
	}
	if (query || frag || (path && strcmp(path, "/") != 0 && path[0])) {
		fail(why, why_len, "a proxy URL has no path, query or fragment");
		goto done;
	}
	if (!(out->host = strdup(host))) {
		fail(why, why_len, "out of memory");
		goto done;
	}
	rc = fill(out, scheme, user, pass, port, why, why_len);
done:
	curl_free(scheme);
	curl_free(user);
	curl_free(pass);
	curl_free(port);
	curl_free(path);
	curl_free(query);
	curl_free(frag);
	curl_free(host);
	return rc;
}

/*
 * The curl form is parsed again by curl: it must name the same host.
 * curl decodes a percent-encoded host after its checks, so "%34" comes
 * out as "4", which reads back as 0.0.0.4; such a URL is refused, as
 * url.c refuses it for servers.
 */
static int reads_back(const struct jg_proxy *p)
{
	CURLU *h = curl_url();
	char *host = NULL;
	int same = h && curl_url_set(h, CURLUPART_URL, p->curl_url, CURLU_NON_SUPPORT_SCHEME) ==
	                        CURLUE_OK &&
	           curl_url_get(h, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
	           strcasecmp(host, p->host) == 0;
	curl_free(host);
	curl_url_cleanup(h);
	return same;
}

int jg_proxy_parse(const char *text, struct jg_proxy *out, char *why, size_t why_len)
{
	memset(out, 0, sizeof *out);
	if (!text || !*text)
		return fail(why, why_len, "empty");
	if (strlen(text) > JG_URL_MAX)
		return fail(why, why_len, "longer than 8 KiB");
	for (const unsigned char *p = (const unsigned char *)text; *p; p++)
		if (*p <= 0x20 || *p == 0x7f)
			return fail(why, why_len, "a space or control character in the URL");
	/* "host:3128", as curl and most *_proxy variables write it, is http. */
	char *full = NULL;
	if (asprintf(&full, "%s%s", strstr(text, "://") ? "" : "http://", text) < 0)
		return fail(why, why_len, "out of memory");
	CURLU *h = curl_url();
	int rc = -1;
	if (!h) {
		fail(why, why_len, "out of memory");
	} else {
		CURLUcode uc = curl_url_set(h, CURLUPART_URL, full, CURLU_NON_SUPPORT_SCHEME);
		if (uc != CURLUE_OK)
			fail(why, why_len, "malformed URL (%s)", curl_url_strerror(uc));
		else
			rc = parse_parts(h, out, why, why_len);
	}
	curl_url_cleanup(h);
	free(full);
	if (rc == 0 && !reads_back(out))
		rc = fail(why, why_len, "malformed URL (a percent-encoded host name that does not "
		          "read back)");
	if (rc < 0)
		jg_proxy_fini(out);
	return rc;
}

int jg_proxy_wants_address(const struct jg_proxy *p)
{
	return p->type == JG_PROXY_SOCKS5;
}

/* ---- a session's proxies ------------------------------------------------- */

static int parse_named(const char *what, const char *text, struct jg_proxy *out, char *why,
                       size_t why_len)
{
	char reason[200];
	memset(out, 0, sizeof *out);
	if (!text || !*text)
		return 0;
	if (jg_proxy_parse(text, out, reason, sizeof reason) == 0)
		return 0;
	return fail(why, why_len, "%s proxy '%.100s': %s", what, text, reason);
}

int jg_proxies_init(struct jg_proxies *ps, const char *http, const char *https,
                    const char *noproxy, char *why, size_t why_len)
{
	char reason[200];
	memset(ps, 0, sizeof *ps);
	if (parse_named("http", http, &ps->http, why, why_len) < 0 ||
	    parse_named("https", https, &ps->https, why, why_len) < 0)
		goto fail;
	if (jg_noproxy_parse(noproxy, &ps->direct, reason, sizeof reason) < 0) {
		fail(why, why_len, "no-proxy list: %s", reason);
		goto fail;
	}
	return 0;
fail:
	jg_proxies_fini(ps);
	return -1;
}

void jg_proxies_fini(struct jg_proxies *ps)
{
	jg_proxy_fini(&ps->http);
	jg_proxy_fini(&ps->https);
	jg_noproxy_fini(&ps->direct);
}

const struct jg_proxy *jg_proxies_route(const struct jg_proxies *ps, const struct jg_url *u)
{
	const struct jg_proxy *p = u->is_https ? &ps->https : &ps->http;
	if (!p->host || jg_noproxy_match(&ps->direct, u->host))
		return NULL;
	return p;
}

/* ---- what went wrong ----------------------------------------------------- */

static int status_transient(long code)
{
	return code == 408 || code == 429 || (code >= 500 && code <= 599 && code != 501 && code != 505);
}

/* A SOCKS failure (CURLE_PROXY) in words, and whether to try again. */
static const char *socks_failure(long code, int *transient)
{
	*transient = 0;
	switch (code) {
	case CURLPX_REPLY_CONNECTION_REFUSED:
		*transient = 1;
		return "the server refused the proxy's connection";
	case CURLPX_REPLY_HOST_UNREACHABLE:
	case CURLPX_REPLY_NETWORK_UNREACHABLE:
	case CURLPX_REPLY_TTL_EXPIRED:
		*transient = 1;
		return "the proxy cannot reach the server";
	case CURLPX_REPLY_GENERAL_SERVER_FAILURE:
		*transient = 1;
		return "the proxy failed to connect to the server";
	case CURLPX_REPLY_NOT_ALLOWED:
		return "the proxy does not allow the connection";
	case CURLPX_NO_AUTH:
	case CURLPX_USER_REJECTED:
	case CURLPX_SEND_AUTH:
	case CURLPX_RECV_AUTH:
	case CURLPX_LONG_USER:
	case CURLPX_LONG_PASSWD:
		return "the proxy refused the credentials";
	case CURLPX_CLOSED:
	case CURLPX_RECV_CONNECT:
	case CURLPX_RECV_REQACK:
	case CURLPX_RECV_ADDRESS:
	case CURLPX_SEND_CONNECT:
	case CURLPX_SEND_REQUEST:
		*transient = 1;
		return "the proxy broke off the SOCKS handshake";
	case CURLPX_BAD_VERSION:
		return "not a SOCKS5 proxy";
	case CURLPX_LONG_HOSTNAME:
		return "the server's name is too long for SOCKS5";
	default:
		return "SOCKS5 failure";
	}
}

int jg_proxy_classify(const struct jg_proxy *p, const struct jg_proxy_attempt *a, char *why,
                      size_t why_len, int *transient)
{
	const char *detail = a->curl_error && a->curl_error[0]
	                             ? a->curl_error : curl_easy_strerror((CURLcode)a->curl_code);
	*transient = 0;
	if (a->connect_code > 0 && (a->connect_code < 200 || a->connect_code > 299)) {
		*transient = status_transient(a->connect_code);
		if (a->connect_code == 407)
			snprintf(why, why_len, "proxy %s: CONNECT refused: proxy authentication required "
			         "(407)", p->shown);
		else
			snprintf(why, why_len, "proxy %s: CONNECT %s (%ld)", p->shown,
			         a->connect_code >= 500 ? "failed" : "refused", a->connect_code);
		return JG_EPROXY;
	}
	switch (a->curl_code) {
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
		/* Through a proxy, the only connection curl makes is to it. */
		*transient = 1;
		snprintf(why, why_len, "proxy %s: unreachable: %s", p->shown, detail);
		return JG_EPROXY;
	case CURLE_PROXY: {
		const char *what = socks_failure(a->proxy_error, transient);
		snprintf(why, why_len, "proxy %s: %s (%s)", p->shown, what, detail);
		return JG_EPROXY;
	}
	default:
		break;
	}
	if (a->curl_code == CURLE_OK && a->http_code == 407) {
		snprintf(why, why_len, "proxy %s: proxy authentication required (HTTP 407)", p->shown);
		return JG_EPROXY;
	}
	return JG_OK;
}

/* ---- the environment ----------------------------------------------------- */

static const char *first_set(char *(*get)(const char *), const char *const *names,
                             const char **which)
{
	for (; *names; names++) {
		const char *v = get(*names);
		if (v && *v) {
			*which = *names;
			return v;
		}
	}
	return NULL;
}

void jg_proxy_env_read(struct jg_proxy_env *out, char *(*get)(const char *name))
{
	static const char *const http[] = {"http_proxy", NULL};
	static const char *const https[] = {"https_proxy", "HTTPS_PROXY", NULL};
	static const char *const all[] = {"all_proxy", "ALL_PROXY", NULL};
	static const char *const no[] = {"no_proxy", "NO_PROXY", NULL};
	memset(out, 0, sizeof *out);
	if (!(out->http = first_set(get, http, &out->http_var)))
		out->http = first_set(get, all, &out->http_var);
	if (!(out->https = first_set(get, https, &out->https_var)))
		out->https = first_set(get, all, &out->https_var);
	out->noproxy = first_set(get, no, &out->noproxy_var);
}
