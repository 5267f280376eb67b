/* Unit tests of proxy URLs, the no-proxy rule, routing, the proxy's
 * failures and the environment variables. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "juggle.h"
#include "noproxy.h"
#include "proxy.h"
#include "url.h"

/* ---- proxy URLs ----------------------------------------------------------- */

static void test_proxy_urls_and_curls_default_ports(void **state)
{
	static const struct {
		const char *text, *curl, *shown, *host;
		long port;
		enum jg_proxy_type type;
		int is_ip, wants_address;
	} ok[] = {
		{"http://Proxy.Example:3128", "http://proxy.example:3128", "http://proxy.example:3128",
		 "proxy.example", 3128, JG_PROXY_HTTP, 0, 0},
		{"proxy.example:8080", "http://proxy.example:8080", "http://proxy.example:8080",
		 "proxy.example", 8080, JG_PROXY_HTTP, 0, 0},
		{"http://10.0.0.1/", "http://10.0.0.1:1080", "http://10.0.0.1:1080", "10.0.0.1", 1080,
		 JG_PROXY_HTTP, 1, 0},
		{"https://p.example", "https://p.example:443", "https://p.example:443", "p.example", 443,
		 JG_PROXY_HTTPS, 0, 0},
		{"socks5://[::1]:1080", "socks5://[::1]:1080", "socks5://[::1]:1080", "[::1]", 1080,
		 JG_PROXY_SOCKS5, 1, 1},
		{"SOCKS5H://s.example", "socks5h://s.example:1080", "socks5h://s.example:1080",
		 "s.example", 1080, JG_PROXY_SOCKS5H, 0, 0},
		/* Credentials reach curl, never a message. */
		{"http://us%40er:p%3Ass@p.example:3128", "http://us%40er:p%3Ass@p.example:3128",
		 "http://p.example:3128", "p.example", 3128, JG_PROXY_HTTP, 0, 0},
		{"socks5h://only-user@p.example:1", "socks5h://only-user@p.example:1",
		 "socks5h://p.example:1", "p.example", 1, JG_PROXY_SOCKS5H, 0, 0},
	};
	for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
		struct jg_proxy p;
		char why[200] = "";
		assert_int_equal(jg_proxy_parse(ok[i].text, &p, why, sizeof why), 0);
		assert_string_equal(p.curl_url, ok[i].curl);
		assert_string_equal(p.shown, ok[i].shown);
		assert_string_equal(p.host, ok[i].host);
		assert_int_equal(p.port, ok[i].port);
		assert_int_equal(p.type, ok[i].type);
		assert_int_equal(p.is_ip, ok[i].is_ip);
		assert_int_equal(jg_proxy_wants_address(&p), ok[i].wants_address);
		jg_proxy_fini(&p);
	}
}

static void test_malformed_proxy_urls_say_why(void **state)
{
	static const struct {
		const char *text, *why;
	} bad[] = {
		{"", "empty"},
		{"ftp://p.example:21", "scheme 'ftp' not supported"},
		{"socks4://p.example", "scheme 'socks4' not supported"},
		{"socks4a://p.example", "scheme 'socks4a' not supported"},
		{"http://p.example:99999", "malformed URL"},
		{"http://p.example:0x50", "malformed URL"},
		{"http://", "malformed URL"},
		{"http://:3128", "malformed URL"},
		{"http://p.example:3128/path", "no path, query or fragment"},
		{"http://p.example:3128/?q", "no path, query or fragment"},
		{"http://p.example:3128#f", "no path, query or fragment"},
		{"http://%34:1080", "does not read back"},
		{"http://p.exa mple", "space or control character"},
		{"http://p.example\r\nX-Evil: 1", "space or control character"},
		{"http://p.example\x7f", "space or control character"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		struct jg_proxy p;
		char why[200] = "";
		assert_int_equal(jg_proxy_parse(bad[i].text, &p, why, sizeof why), -1);
		if (!strstr(why, bad[i].why))
			fail_msg("'%s': '%s' does not say '%s'", bad[i].text, why, bad[i].why);
		assert_null(p.curl_url); /* nothing left to free */
	}
	char longer[JG_URL_MAX + 16] = "http://";
	memset(longer + 7, 'a', JG_URL_MAX);
	longer[JG_URL_MAX + 7] = '\0';
	struct jg_proxy p;
	char why[200];
	assert_int_equal(jg_proxy_parse(longer, &p, why, sizeof why), -1);
	assert_non_null(strstr(why, "8 KiB"));
}

/* ---- the no-proxy rule ----------------------------------------------------- */

static int matches(const char *list, const char *host)
{
	struct jg_noproxy np;
	char why[200];
	assert_int_equal(jg_noproxy_parse(list, &np, why, sizeof why), 0);
	int m = jg_noproxy_match(&np, host);
	jg_noproxy_fini(&np);
	return m;
}

static void test_noproxy_names_and_domains(void **state)
{
	/* curl's rule: the name itself or a name under it, dot or not. */
	assert_true(matches("example.org", "example.org"));
	assert_true(matches("example.org", "www.example.org"));
	assert_true(matches(".example.org", "example.org"));
	assert_true(matches(".example.org", "a.b.example.org"));
	assert_false(matches("example.org", "myexample.org"));
	assert_false(matches(".example.org", "myexample.org"));
	assert_false(matches("www.example.org", "example.org"));
	assert_true(matches("Example.ORG.", "example.org."));
	assert_true(matches("localhost", "localhost"));
	assert_false(matches("localhost", "127.0.0.1")); /* nothing is resolved */
	/* Lists: commas, white space, both, empty entries. */
	assert_true(matches("a.test, b.test", "b.test"));
	assert_true(matches(" a.test\tb.test ,,c.test ", "x.c.test"));
	assert_false(matches("a.test,b.test", "c.test"));
	assert_false(matches("", "a.test"));
	assert_false(matches(NULL, "a.test"));
	/* "*" turns the proxy off, alone or in a list. */
	assert_true(matches("*", "anything.example"));
	assert_true(matches("a.test,*", "[::1]"));
	assert_false(matches("*.example.org", "www.example.org")); /* no globbing */
}

static void test_noproxy_addresses_and_networks(void **state)
{
	assert_true(matches("127.0.0.1", "127.0.0.1"));
	assert_false(matches("127.0.0.1", "127.0.0.2"));
	assert_true(matches("127.0.0.0/8", "127.200.1.1"));
	assert_true(matches("10.1.0.0/16", "10.1.255.3"));
	assert_false(matches("10.1.0.0/16", "10.2.0.1"));
	assert_true(matches("192.168.1.7/31", "192.168.1.6"));
	assert_false(matches("192.168.1.7/31", "192.168.1.8"));
	assert_true(matches("0.0.0.0/0", "8.8.8.8"));
	assert_false(matches("0.0.0.0/0", "[::1]")); /* another family */
	assert_true(matches("::1", "[::1]"));
	assert_true(matches("[::1]", "[::1]"));
	assert_true(matches("fd00::/8", "[fd12:3456::1]"));
	assert_false(matches("fd00::/8", "[fe80::1]"));
	assert_true(matches("2001:db8::/33", "[2001:db8:7fff::1]"));
	assert_false(matches("2001:db8::/33", "[2001:db8:8000::1]"));
	assert_false(matches("127.0.0.1", "localhost"));
	/* A name that looks like an address is still a name. */
	assert_false(matches("10.0.0.1", "10.0.0.1.example"));
}

static void test_noproxy_refuses_malformed_entries(void **state)
{
	static const struct {
		const char *list, *why;
	} bad[] = {
		{"10.0.0.0/33", "prefix length must be 0 to 32"},
		{"::/129", "prefix length must be 0 to 128"},
		{"10.0.0.0/", "prefix length"},
		{"10.0.0.0/8x", "prefix length"},
		{"10.0.0.0/0008", "prefix length"},
		{"a.test,example.org/8", "a prefix length needs an IP address"},
		{"example.org:80", "no port"},
		{"[example.org]", "no port"},
		{".", "an empty name"},
		{"a.test,..", "'..': an empty name"},
		{"a..test", "an empty label"},
		{"a.test..", "an empty label"},
		{"a\x01.test", "control character"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		struct jg_noproxy np;
		char why[200] = "";
		assert_int_equal(jg_noproxy_parse(bad[i].list, &np, why, sizeof why), -1);
		if (!strstr(why, bad[i].why))
			fail_msg("'%s': '%s' does not say '%s'", bad[i].list, why, bad[i].why);
		assert_null(np.v);
		assert_int_equal(np.n, 0);
	}
	/* Too long a name, too many entries. */
	char name[JG_NOPROXY_NAME_MAX + 2];
	memset(name, 'a', sizeof name - 1);
	name[sizeof name - 1] = '\0';
	struct jg_noproxy np;
	char why[200];
	assert_int_equal(jg_noproxy_parse(name, &np, why, sizeof why), -1);
	name[JG_NOPROXY_NAME_MAX] = '\0';
	assert_int_equal(jg_noproxy_parse(name, &np, why, sizeof why), 0);
	jg_noproxy_fini(&np);
	size_t n = JG_NOPROXY_MAX + 1;
	char *many = malloc(n * 2 + 1);
	for (size_t i = 0; i < n; i++)
		memcpy(many + 2 * i, "a,", 2);
	many[n * 2] = '\0';
	assert_int_equal(jg_noproxy_parse(many, &np, why, sizeof why), -1);
	assert_non_null(strstr(why, "entries"));
	many[(n - 1) * 2] = '\0';
	assert_int_equal(jg_noproxy_parse(many, &np, why, sizeof why), 0);
	assert_int_equal(np.n, JG_NOPROXY_MAX);
	jg_noproxy_fini(&np);
	free(many);
}

/* ---- routing --------------------------------------------------------------- */

static const char *route_of(const struct jg_proxies *ps, const char *url)
{
	struct jg_url u;
	char why[200];
	assert_int_equal(jg_url_parse(url, &u, why, sizeof why), JG_OK);
	const struct jg_proxy *p = jg_proxies_route(ps, &u);
	jg_url_fini(&u);
	return p ? p->shown : "direct";
}

static void test_routes_by_scheme_and_noproxy(void **state)
{
	struct jg_proxies ps;
	char why[200];
	assert_int_equal(jg_proxies_init(&ps, "http://h.example:1", "socks5h://s.example:2",
	                                 "direct.example,10.0.0.0/8", why, sizeof why), 0);
	assert_string_equal(route_of(&ps, "http://a.example/x"), "http://h.example:1");
	assert_string_equal(route_of(&ps, "https://a.example/x"), "socks5h://s.example:2");
	assert_string_equal(route_of(&ps, "http://www.direct.example:8080/x"), "direct");
	assert_string_equal(route_of(&ps, "https://10.9.8.7/x"), "direct");
	assert_string_equal(route_of(&ps, "https://11.0.0.1/x"), "socks5h://s.example:2");
	jg_proxies_fini(&ps);
	/* Only one scheme has a proxy: the other goes direct. */
	assert_int_equal(jg_proxies_init(&ps, NULL, "http://h.example:1", NULL, why, sizeof why), 0);
	assert_string_equal(route_of(&ps, "http://a.example/x"), "direct");
	assert_string_equal(route_of(&ps, "https://a.example/x"), "http://h.example:1");
	jg_proxies_fini(&ps);
	/* Errors name the part at fault. */
	assert_int_equal(jg_proxies_init(&ps, "gopher://x", NULL, NULL, why, sizeof why), -1);
	assert_non_null(strstr(why, "http proxy 'gopher://x': scheme 'gopher'"));
	assert_int_equal(jg_proxies_init(&ps, NULL, NULL, "a/1", why, sizeof why), -1);
	assert_non_null(strstr(why, "no-proxy list: "));
}

/* ---- the proxy's failures --------------------------------------------------- */

static int classify(const struct jg_proxy_attempt *a, char *why, int *transient)
{
	struct jg_proxy p;
	char w[200];
	assert_int_equal(jg_proxy_parse("http://user:secret@p.example:3128", &p, w, sizeof w), 0);
	int err = jg_proxy_classify(&p, a, why, 300, transient);
	jg_proxy_fini(&p);
	assert_null(strstr(why, "secret"));
	return err;
}

static void test_the_proxys_failures_are_named(void **state)
{
	char why[300] = "";
	int transient = -1;
	struct jg_proxy_attempt a = {.curl_code = CURLE_RECV_ERROR, .connect_code = 403,
	                             .curl_error = "CONNECT tunnel failed, response 403"};
	assert_int_equal(classify(&a, why, &transient), JG_EPROXY);
	assert_string_equal(why, "proxy http://p.example:3128: CONNECT refused (403)");
	assert_false(transient);
	a.connect_code = 407;
	assert_int_equal(classify(&a, why, &transient), JG_EPROXY);
	assert_string_equal(why, "proxy http://p.example:3128: CONNECT refused: proxy "
	                         "authentication required (407)");
	assert_false(transient);
	a.connect_code = 502;
	assert_int_equal(classify(&a, why, &transient), JG_EPROXY);
	assert_string_equal(why, "proxy http://p.example:3128: CONNECT failed (502)");
	assert_true(transient);
	struct jg_proxy_attempt refused = {.curl_code = CURLE_COULDNT_CONNECT,
	                                   .curl_error = "Failed to connect to p.example port 3128"};
	assert_int_equal(classify(&refused, why, &transient), JG_EPROXY);
	assert_string_equal(why, "proxy http://p.example:3128: unreachable: Failed to connect to "
	                         "p.example port 3128");
	assert_true(transient);
	struct jg_proxy_attempt socks = {.curl_code = CURLE_PROXY,
	                                 .proxy_error = CURLPX_REPLY_CONNECTION_REFUSED,
	                                 .curl_error = ""};
	assert_int_equal(classify(&socks, why, &transient), JG_EPROXY);
	assert_non_null(strstr(why, "the server refused the proxy's connection ("));
	assert_true(transient);
	socks.proxy_error = CURLPX_USER_REJECTED;
	assert_int_equal(classify(&socks, why, &transient), JG_EPROXY);
	assert_non_null(strstr(why, "refused the credentials"));
	assert_false(transient);
	struct jg_proxy_attempt auth = {.curl_code = CURLE_OK, .http_code = 407};
	assert_int_equal(classify(&auth, why, &transient), JG_EPROXY);
	assert_string_equal(why, "proxy http://p.example:3128: proxy authentication required "
	                         "(HTTP 407)");
}

static void test_the_servers_answers_are_not_the_proxys(void **state)
{
	char why[300] = "";
	int transient;
	/* A tunnel that was set up (200) and what came through it. */
	const struct jg_proxy_attempt seen[] = {
		{.curl_code = CURLE_OK, .connect_code = 200, .http_code = 200},
		{.curl_code = CURLE_OK, .connect_code = 200, .http_code = 404},
		{.curl_code = CURLE_OK, .http_code = 503},
		{.curl_code = CURLE_PEER_FAILED_VERIFICATION, .connect_code = 200},
		{.curl_code = CURLE_RECV_ERROR, .connect_code = 200},
		{.curl_code = CURLE_OPERATION_TIMEDOUT},
	};
	for (size_t i = 0; i < sizeof seen / sizeof *seen; i++)
		assert_int_equal(classify(&seen[i], why, &transient), JG_OK);
}

/* ---- the environment --------------------------------------------------------- */

static const char *const *fake_env;

static char *fake_getenv(const char *name)
{
	for (const char *const *e = fake_env; *e; e += 2)
		if (strcmp(e[0], name) == 0)
			return (char *)(uintptr_t)e[1];
	return NULL;
}

static void read_env(const char *const *vars, struct jg_proxy_env *out)
{
	fake_env = vars;
	jg_proxy_env_read(out, fake_getenv);
}

static void test_environment_follows_curls_order(void **state)
{
	struct jg_proxy_env e;
	static const char *const none[] = {NULL};
	read_env(none, &e);
	assert_null(e.http);
	assert_null(e.https);
	assert_null(e.noproxy);
	static const char *const upper_http[] = {"HTTP_PROXY", "h:1", NULL};
	read_env(upper_http, &e);
	assert_null(e.http); /* never HTTP_PROXY */
	static const char *const all[] = {"ALL_PROXY", "A:1", "all_proxy", "a:1",
	                                  "HTTPS_PROXY", "S:1", "NO_PROXY", "N", NULL};
	read_env(all, &e);
	assert_string_equal(e.http, "a:1");
	assert_string_equal(e.http_var, "all_proxy");
	assert_string_equal(e.https, "S:1");
	assert_string_equal(e.https_var, "HTTPS_PROXY");
	assert_string_equal(e.noproxy, "N");
	static const char *const lower_first[] = {"https_proxy", "s:1", "HTTPS_PROXY", "S:1",
	                                          "http_proxy", "h:1", "no_proxy", "n",
	                                          "NO_PROXY", "N", NULL};
	read_env(lower_first, &e);
	assert_string_equal(e.https, "s:1");
	assert_string_equal(e.http, "h:1");
	assert_string_equal(e.http_var, "http_proxy");
	assert_string_equal(e.noproxy, "n");
	assert_string_equal(e.noproxy_var, "no_proxy");
	static const char *const empty[] = {"http_proxy", "", "ALL_PROXY", "A:1", NULL};
	read_env(empty, &e);
	assert_string_equal(e.http, "A:1"); /* empty counts as unset */
}

static void test_options_explicit_beats_the_environment(void **state)
{
	struct jg_options *o = jg_options_new();
	char errbuf[JG_ERRBUF_SIZE];
	assert_int_equal(jg_options_set_proxy(o, "socks4://x"), JG_EINVAL);
	assert_int_equal(jg_options_set_noproxy(o, "10.0.0.0/40"), JG_EINVAL);
	setenv("https_proxy", "socks4://p.example", 1);
	assert_int_equal(jg_options_read_proxy_env(o, errbuf), JG_EINVAL);
	assert_non_null(strstr(errbuf, "https_proxy='socks4://p.example': scheme 'socks4'"));
	/* Chosen explicitly (even "none"): the variables are not read. */
	assert_int_equal(jg_options_set_proxy(o, NULL), JG_OK);
	assert_int_equal(jg_options_read_proxy_env(o, errbuf), JG_OK);
	unsetenv("https_proxy");
	setenv("no_proxy", "a.test,b/99", 1);
	assert_int_equal(jg_options_read_proxy_env(o, errbuf), JG_EINVAL);
	assert_non_null(strstr(errbuf, "no_proxy='a.test,b/99': "));
	assert_int_equal(jg_options_set_noproxy(o, ""), JG_OK);
	assert_int_equal(jg_options_read_proxy_env(o, errbuf), JG_OK);
	unsetenv("no_proxy");
	jg_options_free(o);
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proxy_urls_and_curls_default_ports),
		cmocka_unit_test(test_malformed_proxy_urls_say_why),
		cmocka_unit_test(test_noproxy_names_and_domains),
		cmocka_unit_test(test_noproxy_addresses_and_networks),
		cmocka_unit_test(test_noproxy_refuses_malformed_entries),
		cmocka_unit_test(test_routes_by_scheme_and_noproxy),
		cmocka_unit_test(test_the_proxys_failures_are_named),
		cmocka_unit_test(test_the_servers_answers_are_not_the_proxys),
		cmocka_unit_test(test_environment_follows_curls_order),
		cmocka_unit_test(test_options_explicit_beats_the_environment),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
