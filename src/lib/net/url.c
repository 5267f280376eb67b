#include "url.h"

#include "juggle.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <curl/curl.h>
#include <curl/mprintf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifndef CURLU_PUNYCODE
#define CURLU_PUNYCODE 0
#endif

void jg_url_fini(struct jg_url *u)
{
	curl_free(u->url);
	curl_free(u->host);
	free(u->basename);
	memset(u, 0, sizeof *u);
}

__attribute__((format(printf, 4, 5)))
static int fail(int err, char *why, size_t why_len, const char *fmt, ...)
{
	if (why && why_len) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, why_len, fmt, ap);
		va_end(ap);
	}
	return err;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 0x20);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The path's last segment, percent-decoded: a name, not a URL piece.
 * Decoded after the split, so "%2F" stays inside the segment. */
static char *last_segment(const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *seg = slash ? slash + 1 : path;
	char *out = malloc(strlen(seg) + 1), *o = out;
	if (!out)
		return NULL;
	for (const char *p = seg; *p; p++) {
		int hi, lo;
		if (p[0] == '%' && (hi = hex_digit(p[1])) >= 0 && (lo = hex_digit(p[2])) >= 0) {
			char c = (char)(hi << 4 | lo);
			*o++ = c ? c : '_'; /* a NUL would end the name early */
			p += 2;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	return out;
}

static int host_is_ip(const char *host)
{
	unsigned char addr[16];
	if (host[0] == '[')
		return 1;
	return inet_pton(AF_INET, host, addr) == 1;
}

static int fill_parts(CURLU *h, struct jg_url *out, char *why, size_t why_len)
{
	char *scheme = NULL, *port = NULL, *path = NULL;
	int err = JG_ENOMEM;
	if (curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK)
		goto done;
	if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
		err = fail(JG_ESCHEME, why, why_len,
		           "scheme '%s' not allowed (only http and https)", scheme);
		goto done;
	}
	out->is_https = scheme[4] == 's';
	if (curl_url_get(h, CURLUPART_HOST, &out->host, CURLU_PUNYCODE) != CURLUE_OK ||
	    !out->host[0]) {
		err = fail(JG_EURL, why, why_len, "%s", "no host name");
		goto done;
	}
	for (char *p = out->host; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	out->is_ip = host_is_ip(out->host);
	if (curl_url_get(h, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK)
		goto done;
	out->port = strtol(port, NULL, 10);
	if (curl_url_get(h, CURLUPART_PATH, &path, 0) != CURLUE_OK)
		goto done;
	/* A fragment is never sent: the same request is the same URL. */
	if (curl_url_set(h, CURLUPART_FRAGMENT, NULL, 0) != CURLUE_OK ||
	    curl_url_get(h, CURLUPART_URL, &out->url, CURLU_PUNYCODE) != CURLUE_OK)
		goto done;
	out->basename = last_segment(path);
	err = out->basename ? JG_OK : JG_ENOMEM;
done:
	curl_free(scheme);
	curl_free(port);
	curl_free(path);
	return err;
}

/*
 * The normalized URL is what a session stores, tells duplicates by and
 * hands to libcurl again: it must read back as itself. libcurl decodes a
 * percent-encoded host after its checks, so "http://a%7Fb/" comes out
 * with a raw DEL (which the next parse refuses) and "http://%300/" as
 * host "00" (which the next parse reads as 0.0.0.0). Rather than guess
 * which host was meant, such a URL is refused.
 */
static int check_stable(const struct jg_url *u, char *why, size_t why_len)
{
	CURLU *h = curl_url();
	if (!h)
		return JG_ENOMEM;
	char *host = NULL;
	int same = curl_url_set(h, CURLUPART_URL, u->url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK &&
	           curl_url_get(h, CURLUPART_HOST, &host, CURLU_PUNYCODE) == CURLUE_OK &&
	           strcasecmp(host, u->host) == 0;
	curl_free(host);
	curl_url_cleanup(h);
	if (!same)
		return fail(JG_EURL, why, why_len, "%s",
		            "malformed URL (a percent-encoded host name that does not read back)");
	return JG_OK;
}

int jg_url_parse(const char *text, struct jg_url *out, char *why, size_t why_len)
{
	memset(out, 0, sizeof *out);
	if (strlen(text) > JG_URL_MAX)
		return fail(JG_ETOOLONG, why, why_len, "%s", "URL longer than 8 KiB");
	CURLU *h = curl_url();
	if (!h)
		return JG_ENOMEM;
	/* Without CURLU_GUESS_SCHEME a missing scheme is an error, as wanted. */
	CURLUcode rc = curl_url_set(h, CURLUPART_URL, text, CURLU_NON_SUPPORT_SCHEME);
	int err;
	if (rc != CURLUE_OK)
		err = fail(JG_EURL, why, why_len, "malformed URL (%s)", curl_url_strerror(rc));
	else
		err = fill_parts(h, out, why, why_len);
	curl_url_cleanup(h);
	/* A second parse, a fifth of the whole, for the one case it catches,
	 * a percent-encoded host: each book's URL is parsed when added and
	 * again when it starts. Not where the host begins, which libcurl
	 * finds leniently ("http:///a%7Fb/" has host "a%7Fb"): any '%'. */
	if (err == JG_OK && strchr(text, '%'))
		err = check_stable(out, why, why_len);
	if (err != JG_OK)
		jg_url_fini(out);
	return err;
}

int jg_url_from_host_port(const char *url, const char *host_port, struct jg_url *out)
{
	memset(out, 0, sizeof *out);
	const char *colon = strrchr(host_port, ':');
	if (!colon || colon == host_port || !colon[1])
		return JG_EINVAL;
	size_t n = (size_t)(colon - host_port);
	/* curl's allocator, as jg_url_fini frees these two with curl_free. */
	out->url = curl_maprintf("%s", url);
	out->host = curl_maprintf("%.*s", (int)n, host_port);
	if (!out->url || !out->host) {
		jg_url_fini(out);
		return JG_ENOMEM;
	}
	out->port = strtol(colon + 1, NULL, 10);
	out->is_ip = host_is_ip(out->host);
	out->is_https = strncmp(url, "https://", 8) == 0;
	return JG_OK;
}

int jg_url_is_ebook(const char *text)
{
	size_t n = strspn(text, "0123456789");
	return n > 0 && n <= 9 && text[n] == '\0';
}

int jg_url_expand_ebook(const char *text, const char *mirror, char *out, size_t out_len)
{
	if (!jg_url_is_ebook(text))
		return 0;
	unsigned long id = strtoul(text, NULL, 10);
	size_t m = strlen(mirror);
	while (m > 0 && mirror[m - 1] == '/')
		m--;
	int len = snprintf(out, out_len, "%.*s/cache/epub/%lu/pg%lu.txt", (int)m, mirror, id, id);
	return len > 0 && (size_t)len < out_len;
}
