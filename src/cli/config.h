/*
 * The config file, as curl has .curlrc and wget .wgetrc: one long option
 * per line, "name = value", "name value" or a bare "name" for a flag; a
 * leading "--" is allowed; blank lines and "#" comments are skipped. It
 * is read before the command line, which overrides it.
 */
#ifndef JG_CLI_CONFIG_H
#define JG_CLI_CONFIG_H

#include <stddef.h>

/* One setting: `value` is NULL for a bare name. Strings live until
 * cli_config_fini(). */
typedef void (*cli_config_fn)(void *ctx, const char *file, unsigned long line, const char *name,
                              const char *value);

struct cli_config {
	char **lines;             /* kept: options point into them */
	size_t n_lines;
	char path[4096];          /* the file read, "" when none */
};

/*
 * The default file: $XDG_CONFIG_HOME/juggle/config, else
 * ~/.config/juggle/config. "" when neither variable is set.
 */
void cli_config_default_path(char *out, size_t len);
/*
 * Reads `path`, calling `fn` per setting. A missing file is fine unless
 * `required`. 0, or -1 with `why` filled (naming the file).
 */
int cli_config_read(struct cli_config *c, const char *path, int required, cli_config_fn fn,
                    void *ctx, char *why, size_t why_len);
void cli_config_fini(struct cli_config *c);

#endif
