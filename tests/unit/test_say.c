/* Unit tests of what the command line prints: secrets in URLs masked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "say.h"

static void masks(const char *in, const char *want)
{
	char *got = jg_mask_secrets(in);
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void test_password_is_masked_user_kept(void **state)
{
	masks("http://alice:s3cret@books.test/a.txt", "http://alice:***@books.test/a.txt");
	masks("https://u:p@h:8443/x?y=1", "https://u:***@h:8443/x?y=1");
	/* An empty password is still one: its place is shown, not its length. */
	masks("http://u:@h/", "http://u:***@h/");
}

static void test_every_url_in_a_message(void **state)
{
	masks("redirect from http://a:1@x/ to https://b:2@y/z: loop",
	      "redirect from http://a:***@x/ to https://b:***@y/z: loop");
}

static void test_nothing_to_mask_is_left_alone(void **state)
{
	masks("http://h/a:b@c", "http://h/a:b@c");           /* '@' in the path */
	masks("http://user@h/", "http://user@h/");           /* no password */
	masks("http://h:8080/x", "http://h:8080/x");          /* a port, no '@' */
	masks("no url here: a:b@c", "no url here: a:b@c");
	masks("", "");
	masks("://", "://");
	masks("x://:@", "x://:***@");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_password_is_masked_user_kept),
		cmocka_unit_test(test_every_url_in_a_message),
		cmocka_unit_test(test_nothing_to_mask_is_left_alone),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
