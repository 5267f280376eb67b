/* Unit tests of finding a Project Gutenberg book's text: every marker. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "boilerplate.h"

/* The text `book` keeps: it must be exactly `want`. */
static void expect_text(const char *book, const char *want)
{
	size_t start = 0, end = strlen(book);
	jg_text_strip_boilerplate(book, end, &start, &end);
	assert_true(start <= end);
	assert_int_equal(end - start, strlen(want));
	assert_memory_equal(book + start, want, end - start);
}

static void test_current_markers(void **state)
{
	expect_text("The Project Gutenberg eBook of X\r\nLicence words\r\n"
	            "*** START OF THE PROJECT GUTENBERG EBOOK X ***\r\n"
	            "Call me Ishmael.\r\n"
	            "*** END OF THE PROJECT GUTENBERG EBOOK X ***\r\nMore licence\r\n",
	            "Call me Ishmael.\r\n");
	expect_text("head\n*** START OF THIS PROJECT GUTENBERG EBOOK X ***\ntext\n"
	            "*** END OF THIS PROJECT GUTENBERG EBOOK X ***\n", "text\n");
}

static void test_no_space_after_the_stars(void **state)
{
	/* 17997.txt, 3261.txt, 20866-8.txt */
	expect_text("licence\r\n***START OF THE PROJECT GUTENBERG EBOOK NEWS FROM NOWHERE***\r\n"
	            "text\r\n***END OF THE PROJECT GUTENBERG EBOOK NEWS FROM NOWHERE***\r\nlicence",
	            "text\r\n");
}

static void test_footer_lines_end_the_text(void **state)
{
	expect_text("h\n*** START OF THIS PROJECT GUTENBERG EBOOK K ***\ntext\n\n"
	            "End of the Project Gutenberg EBook of Katrine, by Elinor Lane\n\n"
	            "*** END OF THIS PROJECT GUTENBERG EBOOK K ***\n", "text\n\n");
	expect_text("h\n*** START OF THIS PROJECT GUTENBERG EBOOK K ***\ntext\n"
	            "End of Project Gutenberg's The Devil's Dictionary, by Ambrose Bierce\n", "text\n");
	expect_text("h\n*** START OF THIS PROJECT GUTENBERG EBOOK K ***\ntext\n"
	            "  End of this Project Gutenberg Etext\n", "text\n");
	expect_text("*** START OF THE COPYRIGHTED PROJECT GUTENBERG EBOOK K ***\ntext\n"
	            "*** END OF THE COPYRIGHTED PROJECT GUTENBERG EBOOK K ***\n", "text\n");
}

static void test_old_small_print(void **state)
{
	/* The 1990s header ends with the small print; a START line before it
	 * is followed, the text begins after the last start marker. */
	expect_text("*** START OF THE PROJECT GUTENBERG EBOOK X ***\nsmall print\n"
	            "*END*THE SMALL PRINT! FOR PUBLIC DOMAIN ETEXTS*Ver.04.29.93*END*\n"
	            "Chapter 1\nEnd of the Project Gutenberg Etext of X\nlicence\n", "Chapter 1\n");
	expect_text("small print\n*END THE SMALL PRINT! FOR PUBLIC DOMAIN EBOOKS*\nChapter 1\n",
	            "Chapter 1\n");
	expect_text("*end*the small print! lower case\nChapter 1\n", "Chapter 1\n");
}

static void test_what_is_not_a_marker(void **state)
{
	const char *plain = "no markers *** START OF here\nThe end of Project Gutenberg talk\n"
	                    "*** START: FULL LICENSE ***\n*** END OF THE BOOK\n";
	expect_text(plain, plain);
	/* A start marker after the first end marker starts nothing (6527.txt
	 * has a small print after its end). */
	expect_text("*** START OF THE PROJECT GUTENBERG EBOOK X ***\ntext\n"
	            "*** END OF THE PROJECT GUTENBERG EBOOK X ***\n"
	            "***START**THE SMALL PRINT!**FOR PUBLIC DOMAIN EBOOKS**START***\n"
	            "*END*THE SMALL PRINT\nmore\n", "text\n");
	/* Without a start marker the text starts at the top; an end marker
	 * alone still ends it. */
	expect_text("text\n*** END OF THE PROJECT GUTENBERG EBOOK X ***\nlicence\n", "text\n");
	expect_text("", "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_current_markers),
		cmocka_unit_test(test_no_space_after_the_stars),
		cmocka_unit_test(test_footer_lines_end_the_text),
		cmocka_unit_test(test_old_small_print),
		cmocka_unit_test(test_what_is_not_a_marker),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
