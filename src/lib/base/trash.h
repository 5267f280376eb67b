/*
 * Files to get rid of without stalling the loop. Freeing the blocks of a
 * large file (a compression bomb cut at the size limit leaves 256 MiB in
 * its temporary file) is the kernel's work at the last close(), and on
 * ext4 takes some 30 ms per 256 MiB: the file's name goes at once, and
 * its blocks go a slice at a time, by ftruncate() steps between
 * iterations of the loop.
 */
#ifndef JG_TRASH_H
#define JG_TRASH_H

#include <ev.h>
#include <stddef.h>
#include <sys/types.h>

/* Bytes freed per step: a few milliseconds of the kernel's work at most. */
#define JG_TRASH_STEP (16 << 20)

struct jg_trash_item {
	int fd;
	off_t size;
};

struct jg_trash {
	struct ev_loop *loop;
	ev_prepare step;
	ev_idle more;
	struct jg_trash_item *v;
	size_t n, cap;
};

void jg_trash_init(struct jg_trash *t, struct ev_loop *loop);
/* Closes what is left, at once: the loop is going away. */
void jg_trash_fini(struct jg_trash *t);
/* Takes `fd`, an open file whose name is gone: closes it, now when it is
 * small or still has another name, else once it has been shrunk step by
 * step. */
void jg_trash_add(struct jg_trash *t, int fd);

#endif
