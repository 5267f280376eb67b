/*
 * robots.txt (RFC 9309) as data: the bytes a server sent become the rules
 * of the group that names one crawler, and those rules say whether a path
 * may be fetched. Pure: no I/O, no clock, no loop; robots_gate.c fetches,
 * caches and applies them.
 *
 * What the parser does with the file (RFC 9309 section 2, and where it
 * chooses):
 * - Only the first JG_ROBOTS_MAX_BYTES are read. A line that crosses that
 *   mark is dropped: cut short, "Allow: /public" would become a broader
 *   "Allow: /pub".
 * - Lines end in LF, CR or CRLF; a UTF-8 byte order mark is skipped; '#'
 *   starts a comment; keys are case-insensitive. A line without a colon
 *   is read as KEY VALUE when KEY is one of ours ("Disallow /x" is a typo
 *   whose meaning is plain); other lines are skipped.
 * - A group is one or more user-agent lines and the rules after them; a
 *   user-agent line after a rule starts the next group. Groups naming the
 *   agent are merged; only when none does, those of '*' are (merged too).
 *   A user-agent line's value names an agent by its product token, what
 *   comes before the first '/' or blank ("juggle/1.0" is "juggle"),
 *   compared without regard to case.
 * - An empty Allow or Disallow is no rule. A pattern that starts with
 *   neither '/' nor '*' is read as if it started with '/'.
 * - Crawl-delay (not in RFC 9309, widely used): the largest of the
 *   applying groups', in seconds.
 *
 * Matching: the rule whose pattern has the most octets (after the
 * normalisation below) wins; on a tie Allow wins; no rule matching allows.
 * '*' matches any run of octets, a final '$' anchors at the end of the
 * path, and "/robots.txt" is always allowed.
 *
 * Percent-encoding is normalised the same way on both sides before they
 * are compared (RFC 9309 2.2.2, whose table of examples this satisfies):
 * an octet outside printable US-ASCII, or not allowed in a URI, is
 * encoded; an encoded octet is decoded when its character could stand
 * there unencoded without changing what the URI says: the unreserved
 * characters anywhere, ':' and '@' in the path, and also '/' and '?' in
 * the query; every other escape is kept, its hex digits upper-case. So
 * "/%62az" matches "/baz" and "/ツ" matches "/%E3%83%84", while "/a%2Fb"
 * is not "/a/b". A literal '*' or '$' in a URL is taken as itself, an
 * encoded "%2A" or "%24" in a pattern as the character, not the operator.
 *
 * Cost: matching a path of L octets against R rules is O(R * L) in the
 * worst case (each '*' segment is found with memmem, leftmost first,
 * which is exact for patterns whose only operator is '*'); a rule set
 * holds at most 3 * JG_ROBOTS_MAX_BYTES octets of patterns.
 */
#ifndef JG_ROBOTS_H
#define JG_ROBOTS_H

#include <stddef.h>
#include <stdint.h>

/* RFC 9309 2.5: a crawler must read at least 500 KiB; juggle reads that. */
#define JG_ROBOTS_MAX_BYTES (500u * 1024)

/* The longest product token kept (a User-Agent's name part). */
#define JG_ROBOTS_AGENT_MAX 64

struct jg_robots_rule {
	uint32_t off, len;  /* its normalised pattern in the set's `text` */
	uint8_t allow;      /* Allow (1) or Disallow (0) */
	uint8_t anchored;   /* the pattern ended in '$' */
};

/* Which groups the rules came from. */
enum jg_robots_group {
	JG_ROBOTS_GROUP_NONE,   /* no group applied: everything is allowed */
	JG_ROBOTS_GROUP_STAR,   /* the '*' groups */
	JG_ROBOTS_GROUP_AGENT,  /* groups that name the agent */
};

struct jg_robots {
	char *text;                   /* the rules' patterns, back to back */
	size_t text_len;
	struct jg_robots_rule *rules; /* most specific first */
	size_t n_rules;
	double crawl_delay;           /* seconds; 0 when none was given */
	enum jg_robots_group group;
};

/* An empty rule set: everything allowed (what a 404 means). */
void jg_robots_init(struct jg_robots *r);
void jg_robots_fini(struct jg_robots *r);

/*
 * How many of the `len` bytes at `text` are read: all of them up to
 * JG_ROBOTS_MAX_BYTES, else up to the last line end within that many.
 */
size_t jg_robots_readable(const char *text, size_t len);

/*
 * Reads the rules that apply to `agent` (a product token, see
 * jg_robots_agent) from the `len` bytes at `text` (any bytes; only the
 * first JG_ROBOTS_MAX_BYTES are read) into `r`, which it initialises.
 * 0, or -1 out of memory (`r` then empty).
 */
int jg_robots_parse(struct jg_robots *r, const char *text, size_t len, const char *agent);

/*
 * Whether `path` (`len` bytes: a URL's path and query, as
 * jg_robots_url_path gives them) may be fetched: 1 yes, 0 no, -1 out of
 * memory. `*by` (may be NULL) is set to the rule that decided, NULL when
 * none matched.
 */
int jg_robots_allowed(const struct jg_robots *r, const char *path, size_t len,
                      const struct jg_robots_rule **by);

/*
 * The normalised form of path `path` (`len` bytes) into `out`, which has
 * room for 3 * len + 1 bytes; its length. It starts with '/' (a path that
 * does not is the root's) and is what patterns are matched against.
 */
size_t jg_robots_normalize_path(const char *path, size_t len, char *out);

/* The path and query of absolute URL `url` (no fragment), into `*len`;
 * may be empty ("http://h" or "http://h?q": both mean "/"). */
const char *jg_robots_url_path(const char *url, size_t *len);

/*
 * The product token of `user_agent` (what comes before its first '/' or
 * blank), at most JG_ROBOTS_AGENT_MAX bytes, into `out` (that plus one
 * byte); its length. "juggle/0.4.0" gives "juggle".
 */
size_t jg_robots_agent(const char *user_agent, char *out);

#endif
