/*
 * Where the text of a Project Gutenberg book is: between its header
 * (title page, licence summary, in old files the "small print") and its
 * footer (the licence). Gutenberg has marked the two with lines that
 * changed over its history; a marker is a line that begins, after spaces
 * or tabs and in any letter case, with one of:
 *
 *   start  "*** START OF THE PROJECT GUTENBERG" (or THIS; the space after
 *          the stars optional: "***START OF THE ...")
 *          "*** START OF THE COPYRIGHTED PROJECT GUTENBERG"
 *          "*END*THE SMALL PRINT" (or "*END THE SMALL PRINT"), the end of
 *          the old licence header
 *   end    "*** END OF THE PROJECT GUTENBERG" (or THIS, "***END OF ...")
 *          "*** END OF THE COPYRIGHTED PROJECT GUTENBERG"
 *          "End of the Project Gutenberg", "End of this Project Gutenberg",
 *          "End of Project Gutenberg" (as in "End of Project Gutenberg's X")
 *
 * The text begins after the last start marker that comes before the first
 * end marker, and ends where that end marker begins. Without a start
 * marker it begins at the top; without an end marker it runs to the end.
 * (Learnt from the marker lists of the `gutenberg` Python package and the
 * Standardized Project Gutenberg Corpus, without their heuristics that
 * also match lines of the books themselves, such as "Produced by".)
 */
#ifndef JG_BOILERPLATE_H
#define JG_BOILERPLATE_H

#include <stddef.h>

/* Narrows [*start, *end) of `text` to the book's own text. */
void jg_text_strip_boilerplate(const char *text, size_t len, size_t *start, size_t *end);

#endif
