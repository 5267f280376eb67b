/*
 * Which hosts go direct although a proxy is set: curl's NO_PROXY rule
 * (--noproxy), which users already write for curl and wget.
 *
 * The list is separated by commas and/or white space. Each entry is
 *   - a host name or domain: "example.org" and ".example.org" both match
 *     example.org itself and every name under it (www.example.org), never
 *     a name that merely ends alike (myexample.org); case does not
 *     matter, nor a trailing dot;
 *   - an IPv4 or IPv6 address, optionally in brackets, optionally with a
 *     CIDR prefix length ("10.0.0.0/8", "::1/128"): it matches URLs whose
 *     host is that address literal, or inside that network. A host *name*
 *     never matches an address entry: nothing is resolved to decide;
 *   - "*": every host (the proxy is off).
 * A port in the URL plays no part.
 *
 * Malformed (refused, with a reason): a prefix length on a name or out of
 * range for its family, a control byte, an entry longer than a host name
 * can be (253 bytes), more than JG_NOPROXY_MAX entries.
 */
#ifndef JG_NOPROXY_H
#define JG_NOPROXY_H

#include <stddef.h>
#include <stdint.h>

#define JG_NOPROXY_MAX 4096
#define JG_NOPROXY_NAME_MAX 253

enum jg_noproxy_kind { JG_NOPROXY_NAME, JG_NOPROXY_IPV4, JG_NOPROXY_IPV6 };

struct jg_noproxy_entry {
	enum jg_noproxy_kind kind;
	char name[JG_NOPROXY_NAME_MAX + 1]; /* NAME: lower case, no dots around */
	uint8_t addr[16];                   /* IPV4 (first 4 bytes), IPV6 */
	unsigned bits;                      /* prefix length */
};

struct jg_noproxy {
	int all;                            /* "*" was listed */
	struct jg_noproxy_entry *v;
	size_t n;
};

/*
 * Parses `list` (NULL or "" = no entry) into `out` (free with
 * jg_noproxy_fini). 0, or -1 with the reason in `why` (out of memory
 * included); `out` is then empty.
 */
int jg_noproxy_parse(const char *list, struct jg_noproxy *out, char *why, size_t why_len);
void jg_noproxy_fini(struct jg_noproxy *np);

/* Whether `host` (as struct jg_url has it: lower case, an IPv6 literal in
 * brackets) goes direct. */
int jg_noproxy_match(const struct jg_noproxy *np, const char *host);

#endif
