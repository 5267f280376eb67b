#include "outfile.h"
#include "say.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * A new file beside `path` to write it in: "DIR/.NAME.jg-PID-N.part",
 * made here and now with O_EXCL, so nothing a writer of DIR planted there
 * (a symlink) is followed.
 */
static FILE *open_temp_beside(const char *path, char *temp, size_t len)
{
	const char *slash = strrchr(path, '/');
	int dir_len = slash ? (int)(slash - path + 1) : 0;
	const char *base = slash ? slash + 1 : path;
	for (unsigned n = 0; n < 100; n++) {
		snprintf(temp, len, "%.*s.%s.jg-%ld-%u.part", dir_len, path, base, (long)getpid(), n);
		int fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd >= 0) {
			FILE *f = fdopen(fd, "w");
			if (!f)
				close(fd);
			return f;
		}
		if (errno != EEXIST)
			return NULL;
	}
	return NULL;
}

int outfile_open(struct outfile *o, const char *what, const char *path)
{
	memset(o, 0, sizeof *o);
	o->what = what;
	if (!path)
		return 0;
	if (strcmp(path, "-") == 0) {
		o->f = stdout;
		return 0;
	}
	size_t len = strlen(path) + 64;
	o->path = strdup(path);
	o->temp = malloc(len);
	if (!o->path || !o->temp) {
		jg_say(stderr, "juggle: out of memory\n");
		return -1;
	}
	o->f = open_temp_beside(path, o->temp, len);
	if (!o->f) {
		/* The user's path in the message, not our temporary name. */
		jg_say(stderr, "juggle: %s %s: cannot write it: %s\n", what, path, strerror(errno));
		return -1;
	}
	return 0;
}

int outfile_commit(struct outfile *o)
{
	if (!o->f)
		return 0;
	int bad;
	if (!o->temp) {
		bad = fflush(o->f) != 0 || ferror(o->f);
		o->f = NULL;
		if (bad)
			jg_say(stderr, "juggle: %s to stdout: %s\n", o->what, strerror(errno));
		return bad ? -1 : 0;
	}
	bad = ferror(o->f);
	bad |= fclose(o->f) != 0;
	o->f = NULL;
	if (bad || rename(o->temp, o->path) < 0) {
		jg_say(stderr, "juggle: %s %s: %s\n", o->what, o->path, strerror(errno));
		unlink(o->temp);
		return -1;
	}
	return 0;
}

void outfile_close(struct outfile *o)
{
	if (o->f && o->temp) {
		fclose(o->f);
		unlink(o->temp);
	}
	free(o->path);
	free(o->temp);
	memset(o, 0, sizeof *o);
}
