#include "trash.h"

#include "stall.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static void on_step(struct ev_loop *loop, ev_prepare *w, int revents);
static void on_more(struct ev_loop *loop, ev_idle *w, int revents);

void jg_trash_init(struct jg_trash *t, struct ev_loop *loop)
{
	t->loop = loop;
	t->v = NULL;
	t->n = t->cap = 0;
	ev_prepare_init(&t->step, on_step);
	t->step.data = t;
	ev_idle_init(&t->more, on_more);
}

void jg_trash_fini(struct jg_trash *t)
{
	for (size_t i = 0; i < t->n; i++)
		close(t->v[i].fd);
	free(t->v);
	t->v = NULL;
	t->n = t->cap = 0;
	if (t->loop) {
		ev_prepare_stop(t->loop, &t->step);
		ev_idle_stop(t->loop, &t->more);
	}
}

void jg_trash_add(struct jg_trash *t, int fd)
{
	struct stat st;
	/* A file with a name left (a partial body's, base/partial.h) keeps its
	 * blocks: closing it frees nothing, and shrinking it would destroy it. */
	if (fstat(fd, &st) < 0 || st.st_size <= JG_TRASH_STEP || st.st_nlink > 0) {
		close(fd);
		return;
	}
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 8;
		struct jg_trash_item *v = realloc(t->v, cap * sizeof *v);
		if (!v) {
			close(fd); /* the slow way, but nothing is lost */
			return;
		}
		t->v = v;
		t->cap = cap;
	}
	t->v[t->n++] = (struct jg_trash_item){fd, st.st_size};
	ev_prepare_start(t->loop, &t->step);
	ev_idle_start(t->loop, &t->more);
}

static void on_step(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct jg_trash *t = w->data;
	while (t->n && !jg_slice_spent(loop)) {
		struct jg_trash_item *it = &t->v[t->n - 1];
		it->size = it->size > JG_TRASH_STEP ? it->size - JG_TRASH_STEP : 0;
		if (it->size == 0 || ftruncate(it->fd, it->size) < 0) {
			close(it->fd);
			t->n--;
		}
	}
	if (!t->n) {
		ev_prepare_stop(loop, w);
		ev_idle_stop(loop, &t->more);
	}
}

static void on_more(struct ev_loop *loop, ev_idle *w, int revents)
{
	/* Only there to keep the loop from waiting while files are left. */
}
