#include "juggle.h"

#include <ares.h>
#include <brotli/decode.h>
#include <curl/curl.h>
#include <ev.h>
#include <gnu/libc-version.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <utf8proc.h>
#include <zlib.h>
#include <zstd.h>

JG_EXPORT const char *jg_version(void)
{
	return JG_VERSION;
}

JG_EXPORT unsigned jg_version_number(void)
{
	return JG_VERSION_NUM;
}

/* libcurl's features that shape what juggle fetches. */
static void curl_features(const curl_version_info_data *c, char *out, size_t len)
{
	static const struct {
		int bit;
		const char *name;
	} known[] = {
		{CURL_VERSION_HTTP2, "HTTP2"},       {CURL_VERSION_HTTPS_PROXY, "HTTPS-proxy"},
		{CURL_VERSION_IPV6, "IPv6"},         {CURL_VERSION_LARGEFILE, "Largefile"},
		{CURL_VERSION_ASYNCHDNS, "AsynchDNS"}, {CURL_VERSION_UNIX_SOCKETS, "UnixSockets"},
	};
	out[0] = '\0';
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
		if (c->features & known[i].bit) {
			size_t used = strlen(out);
			snprintf(out + used, len - used, "%s%s", used ? " " : "", known[i].name);
		}
}

/* Every library whose version can change what a run saves or counts. */
JG_EXPORT void jg_library_versions(char *buf, size_t len)
{
	const curl_version_info_data *c = curl_version_info(CURLVERSION_NOW);
	char features[160];
	curl_features(c, features, sizeof features);
	unsigned br = BrotliDecoderVersion();
	snprintf(buf, len,
	         "libcurl %s (%s%s%s; %s)\n"
	         "libev %d.%d\n"
	         "c-ares %s (names resolved on the loop)\n"
	         "utf8proc %s (Unicode %s: words, case folding)\n"
	         "zlib %s, brotli %u.%u.%u, zstd %s (content codings, decoded by juggle)\n"
	         "%s (TLS through libcurl; SHA-256 of saved books)\n"
	         "glibc %s (iconv: the charsets books are read in)",
	         c->version, c->ssl_version ? c->ssl_version : "no TLS",
	         c->nghttp2_version ? ", nghttp2/" : "", c->nghttp2_version ? c->nghttp2_version : "",
	         features, ev_version_major(), ev_version_minor(), ares_version(NULL),
	         utf8proc_version(), utf8proc_unicode_version(), zlibVersion(), br >> 24,
	         (br >> 12) & 0xfff, br & 0xfff, ZSTD_versionString(), OpenSSL_version(OPENSSL_VERSION),
	         gnu_get_libc_version());
}

JG_EXPORT int jg_global_init(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return JG_EINTERNAL;
	if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS) {
		curl_global_cleanup();
		return JG_EINTERNAL;
	}
	return JG_OK;
}

JG_EXPORT void jg_global_cleanup(void)
{
	ares_library_cleanup();
	curl_global_cleanup();
}
