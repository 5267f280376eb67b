#include "juggle.h"

#include <ares.h>
#include <curl/curl.h>
#include <ev.h>
#include <stdio.h>

JG_EXPORT const char *jg_version(void)
{
	return JG_VERSION;
}

JG_EXPORT unsigned jg_version_number(void)
{
	return JG_VERSION_NUM;
}

JG_EXPORT void jg_library_versions(char *buf, size_t len)
{
	const curl_version_info_data *c = curl_version_info(CURLVERSION_NOW);
	snprintf(buf, len, "libcurl %s (%s%s%s)\nlibev %d.%d\nc-ares %s", c->version,
	         c->ssl_version ? c->ssl_version : "no TLS", c->nghttp2_version ? ", nghttp2/" : "",
	         c->nghttp2_version ? c->nghttp2_version : "", ev_version_major(), ev_version_minor(),
	         ares_version(NULL));
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
