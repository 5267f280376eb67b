/* Unit tests of the retry policy: what is transient, how long to wait. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <string.h>

#include "juggle.h"
#include "fetch.h"
#include "retry.h"

static int classify(int curl_code, long http, int *transient, char *why)
{
	struct jg_attempt a = {.curl_code = curl_code, .http_code = http, .stall_timeout = 5,
	                       .max_size = 100, .curl_error = ""};
	return jg_retry_classify(&a, why, 128, transient);
}

static void test_http_statuses(void **state)
{
	int t;
	char why[128];
	assert_int_equal(classify(CURLE_OK, 200, &t, why), JG_OK);
	assert_int_equal(classify(CURLE_OK, 404, &t, why), JG_EHTTP);
	assert_false(t);
	assert_string_equal(why, "HTTP 404");
	assert_int_equal(classify(CURLE_OK, 403, &t, why), JG_EHTTP);
	assert_false(t);
	long transient_codes[] = {408, 429, 500, 502, 503, 504};
	for (size_t i = 0; i < sizeof transient_codes / sizeof *transient_codes; i++) {
		assert_int_equal(classify(CURLE_OK, transient_codes[i], &t, why), JG_EHTTP);
		assert_true(t);
	}
	classify(CURLE_OK, 501, &t, why);
	assert_false(t);
}

static void test_curl_errors(void **state)
{
	int t;
	char why[128];
	assert_int_equal(classify(CURLE_COULDNT_CONNECT, 0, &t, why), JG_ECONNECT);
	assert_true(t);
	assert_int_equal(classify(CURLE_PARTIAL_FILE, 200, &t, why), JG_ETRANSFER);
	assert_true(t);
	assert_int_equal(classify(CURLE_RECV_ERROR, 200, &t, why), JG_ETRANSFER);
	assert_true(t);
	assert_int_equal(classify(CURLE_PEER_FAILED_VERIFICATION, 0, &t, why), JG_ETLS);
	assert_false(t);
}

static void test_stall_and_size(void **state)
{
	int t;
	char why[128];
	struct jg_attempt a = {.curl_code = CURLE_OPERATION_TIMEDOUT, .stalled = 1, .stall_timeout = 5,
	                       .max_size = 100, .curl_error = ""};
	assert_int_equal(jg_retry_classify(&a, why, sizeof why, &t), JG_ETIMEOUT);
	assert_true(t);
	assert_non_null(strstr(why, "no data for 5 s"));
	a.stalled = 0;
	a.aborted = JG_ABORT_TOO_LARGE;
	a.curl_code = CURLE_WRITE_ERROR;
	assert_int_equal(jg_retry_classify(&a, why, sizeof why, &t), JG_ETOOLARGE);
	assert_false(t);
	assert_non_null(strstr(why, "100 bytes"));
}

static void test_backoff_doubles_with_jitter_and_honours_retry_after(void **state)
{
	uint64_t rng = 42;
	for (unsigned attempt = 1; attempt <= 4; attempt++) {
		double full = 1.0 * (1u << (attempt - 1));
		for (int i = 0; i < 100; i++) {
			double d = jg_retry_backoff(attempt, 1.0, 0, &rng);
			assert_true(d >= full / 2 && d <= full);
		}
	}
	assert_true(jg_retry_backoff(30, 1.0, 0, &rng) <= JG_BACKOFF_MAX);
	assert_true(jg_retry_backoff(1, 0.1, 7.0, &rng) >= 7.0);
	/* Jitter really varies. */
	double a = jg_retry_backoff(3, 1.0, 0, &rng), b = jg_retry_backoff(3, 1.0, 0, &rng);
	assert_true(a != b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_statuses),
		cmocka_unit_test(test_curl_errors),
		cmocka_unit_test(test_stall_and_size),
		cmocka_unit_test(test_backoff_doubles_with_jitter_and_honours_retry_after),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
