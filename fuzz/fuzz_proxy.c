/*
 * libFuzzer target: arbitrary bytes as what a user or the environment
 * gives for proxies, cut at the first two newlines into a proxy URL (-x,
 * *_proxy), a no-proxy list (--noproxy, no_proxy) and a host to route.
 * Checked:
 *  - a proxy URL that parses has one of the four schemes, a non-empty
 *    lower-case host, a port in 1..65535, a message form
 *    "scheme://host:port" that holds no credentials, and a curl form that
 *    parses again to the same proxy (it is what curl is handed);
 *  - one that does not parse says why, and leaves nothing allocated;
 *  - a no-proxy list that parses has at most JG_NOPROXY_MAX entries, each
 *    name entry matching itself and a name under it, each address entry
 *    matching its own address; "*" matches every host;
 *  - one that does not parse says why and leaves the list empty;
 *  - matching any host never reads out of bounds (ASan).
 */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "noproxy.h"
#include "proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_proxy: invariant violated: %s\n", what);
		abort();
	}
}

static const char *const scheme_names[] = {"http://", "https://", "socks5://", "socks5h://"};

static void check_proxy(const char *text)
{
	struct jg_proxy p, again;
	char why[256] = "";
	if (jg_proxy_parse(text, &p, why, sizeof why) < 0) {
		check(why[0] != '\0', "proxy: refused without a reason");
		check(!p.curl_url && !p.shown && !p.host, "proxy: refused, yet holds memory");
		return;
	}
	const char *scheme = scheme_names[p.type];
	check(strncmp(p.shown, scheme, strlen(scheme)) == 0, "proxy: shown with another scheme");
	check(strncmp(p.curl_url, scheme, strlen(scheme)) == 0, "proxy: curl gets another scheme");
	check(p.host[0] != '\0', "proxy: no host");
	for (const char *c = p.host; *c; c++)
		check(*c < 'A' || *c > 'Z', "proxy: host not lower case");
	check(p.port >= 1 && p.port <= 65535, "proxy: port out of range");
	/* As long as the host is: a fixed buffer cut a long one short and
	 * took the harness's own truncation for a broken proxy. */
	char *shown = NULL;
	check(asprintf(&shown, "%s%s:%ld", scheme, p.host, p.port) > 0, "proxy: out of memory");
	check(strcmp(shown, p.shown) == 0, "proxy: shown is not scheme://host:port");
	free(shown);
	check(!strchr(p.shown + strlen(scheme), '@'), "proxy: credentials in the message form");
	check(jg_proxy_parse(p.curl_url, &again, why, sizeof why) == 0, "proxy: curl form refused");
	check(again.type == p.type && strcmp(again.host, p.host) == 0 && again.port == p.port &&
	          strcmp(again.curl_url, p.curl_url) == 0 && strcmp(again.shown, p.shown) == 0,
	      "proxy: curl form is another proxy");
	jg_proxy_fini(&again);
	jg_proxy_fini(&p);
}

static void check_entry(const struct jg_noproxy *np, const struct jg_noproxy_entry *e)
{
	char host[JG_NOPROXY_NAME_MAX + 16];
	if (e->kind == JG_NOPROXY_NAME) {
		check(e->name[0] && e->name[0] != '.', "noproxy: an empty or dotted name");
		check(jg_noproxy_match(np, e->name), "noproxy: a name does not match itself");
		snprintf(host, sizeof host, "www.%s", e->name);
		check(jg_noproxy_match(np, host), "noproxy: a name under it does not match");
		return;
	}
	char text[INET6_ADDRSTRLEN];
	int v4 = e->kind == JG_NOPROXY_IPV4;
	check(e->bits <= (v4 ? 32u : 128u), "noproxy: prefix length out of range");
	inet_ntop(v4 ? AF_INET : AF_INET6, e->addr, text, sizeof text);
	snprintf(host, sizeof host, v4 ? "%s" : "[%s]", text);
	check(jg_noproxy_match(np, host), "noproxy: an address does not match itself");
}

static void check_noproxy(const char *list, const char *host)
{
	struct jg_noproxy np;
	char why[256] = "";
	if (jg_noproxy_parse(list, &np, why, sizeof why) < 0) {
		check(why[0] != '\0', "noproxy: refused without a reason");
		check(!np.v && np.n == 0 && !np.all, "noproxy: refused, yet not empty");
		return;
	}
	check(np.n <= JG_NOPROXY_MAX, "noproxy: too many entries");
	for (size_t i = 0; i < np.n; i++)
		check_entry(&np, &np.v[i]);
	int m = jg_noproxy_match(&np, host);
	check(!np.all || m, "noproxy: '*' did not match");
	jg_noproxy_fini(&np);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	char *list = strchr(text, '\n');
	char *host = "";
	if (list) {
		*list++ = '\0';
		char *h = strchr(list, '\n');
		if (h) {
			*h++ = '\0';
			host = h;
		}
	}
	check_proxy(text);
	if (list)
		check_noproxy(list, host);
	free(text);
	return 0;
}
