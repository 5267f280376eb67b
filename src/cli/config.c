#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cli_config_default_path(char *out, size_t len)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	/* The XDG rule: a relative value is to be ignored. */
	if (xdg && xdg[0] == '/')
		snprintf(out, len, "%s/juggle/config", xdg);
	else if (home && *home)
		snprintf(out, len, "%s/.config/juggle/config", home);
	else
		out[0] = '\0';
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

int cli_config_read(struct cli_config *c, const char *path, int required, cli_config_fn fn,
                    void *ctx, char *why, size_t why_len)
{
	snprintf(c->path, sizeof c->path, "%s", path);
	FILE *f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT && !required) {
			c->path[0] = '\0';
			return 0;
		}
		snprintf(why, why_len, "config file %s: %s", path, strerror(errno));
		return -1;
	}
	char *buf = NULL;
	size_t cap = 0;
	ssize_t got;
	unsigned long line = 0;
	int rc = 0;
	while ((got = getline(&buf, &cap, f)) >= 0) {
		line++;
		if (memchr(buf, '\0', (size_t)got)) {
			snprintf(why, why_len, "%s:%lu: a NUL byte", path, line);
			rc = -1;
			break;
		}
		char **grown = realloc(c->lines, (c->n_lines + 1) * sizeof *grown);
		char *copy = grown ? strdup(buf) : NULL;
		if (grown)
			c->lines = grown;
		if (!copy) {
			snprintf(why, why_len, "%s: out of memory", path);
			rc = -1;
			break;
		}
		c->lines[c->n_lines++] = copy;
		char *s = trim(copy);
		if (!*s || *s == '#')
			continue;
		if (s[0] == '-' && s[1] == '-')
			s += 2;
		/* The name ends at '=' or white space; the value follows either. */
		size_t n = strcspn(s, "= \t");
		char *value = s + n;
		if (*value) {
			*value++ = '\0';
			value = trim(value);
			if (*value == '=')
				value = trim(value + 1);
		}
		fn(ctx, path, line, s, *value ? value : NULL);
	}
	if (rc == 0 && ferror(f)) {
		snprintf(why, why_len, "config file %s: %s", path, strerror(errno));
		rc = -1;
	}
	free(buf);
	fclose(f);
	return rc;
}

void cli_config_fini(struct cli_config *c)
{
	for (size_t i = 0; i < c->n_lines; i++)
		free(c->lines[i]);
	free(c->lines);
	c->lines = NULL;
	c->n_lines = 0;
}
