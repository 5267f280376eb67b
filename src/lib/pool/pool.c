#include "pool.h"

#include "charset.h"
#include "counts.h"
#include "proto.h"
#include "stall.h"
#include "worker.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define NONE UINT32_MAX

extern char **environ;
/* Respawns stop here: a machine that kills every worker is not helped. */
enum { MAX_RESPAWNS = 1000, PIPE_SIZE = 1 << 20, READ_CHUNK = 256 * 1024 };

enum record_state { REC_FREE, REC_INFLIGHT, REC_ANSWERED };

/* A book from hand-over until its counts are merged into the pool's table. */
struct record {
	enum record_state state;
	uint8_t type;             /* JG_FRAME_BOOK or JG_FRAME_RECOUNT */
	unsigned deaths;
	char *body;               /* held until answered: a resend needs it */
	size_t len;
	char *dir, *name;
	char charset[JG_MSG_CHARSET_MAX + 1];
	uint64_t expect_size, expect_ino;
	uint32_t flags;
	jg_pool_done_cb done;     /* NULL once answered or forgotten */
	void *user;
	uint64_t cookie;
	uint32_t next;            /* in a worker's list, or the free list */
};

struct out_item {
	struct out_item *next;
	uint8_t *meta;            /* header and leading fields */
	size_t meta_len;
	const char *body;         /* borrowed from the record */
	size_t body_len;
	size_t off;
};

struct worker {
	struct jg_pool *p;
	pid_t pid;
	int to, from;
	int alive;
	ev_io rd, wr;
	struct out_item *out_head, *out_tail;
	uint64_t outstanding;
	uint8_t *in;
	size_t in_len, in_cap;
	uint32_t fly_head, fly_tail;   /* sent, not answered: in order */
	uint32_t answered;             /* answered, counts not yet merged */
	struct jg_counts staging;      /* a table arriving in chunks */
	/* A whole table going into the pool's, a step per loop iteration.
	 * The pool's, not the process's: it merges on if the worker dies. */
	struct jg_counts merging;
	struct jg_counts_cursor merge_at;
	int merge_pending;
	int backlog;                   /* whole frames wait in `in`; reading stopped */
	size_t staged;                 /* words of the TABLE frame being decoded */
	int flushing;
	int write_broken;              /* EPIPE: wait for EOF on the read side */
	unsigned generation;           /* bumped at each death */
};

struct jg_pool {
	struct ev_loop *loop;
	struct worker *w;
	unsigned n;
	struct record *rec;
	uint32_t n_rec, cap_rec, free_rec;
	uint64_t held;
	unsigned respawns;
	unsigned exec_starts;         /* workers started through the helper */
	char *helper;                 /* the helper's path, once known */
	int forced_exec;              /* jg_pool_new_exec(): never a plain fork */
	pid_t *dead;                  /* exited workers not yet reaped */
	size_t n_dead, cap_dead;
	int dispatching;              /* worker_dead() calls on the stack */
	struct jg_counts counts;
	ev_prepare table_work;        /* tables merged and frames read, a step a turn */
	ev_idle table_more;           /* keeps the loop from waiting meanwhile */
	unsigned turn;                /* the loop iteration turn_took is of */
	size_t turn_took, most_in_a_turn; /* table entries taken in */
	jg_counts_cb collect_cb;
	void *collect_user;
};

static void worker_dead(struct worker *w);
static void check_collect(struct jg_pool *p);

/* ---- records ------------------------------------------------------------- */

static uint32_t record_new(struct jg_pool *p)
{
	if (p->free_rec != NONE) {
		uint32_t i = p->free_rec;
		p->free_rec = p->rec[i].next;
		return i;
	}
	if (p->n_rec == p->cap_rec) {
		uint32_t cap = p->cap_rec ? p->cap_rec * 2 : 64;
		struct record *r = realloc(p->rec, cap * sizeof *r);
		if (!r)
			return NONE;
		p->rec = r;
		p->cap_rec = cap;
	}
	return p->n_rec++;
}

static void record_free(struct jg_pool *p, uint32_t i)
{
	struct record *r = &p->rec[i];
	if (r->body)
		p->held -= r->len;
	free(r->body);
	free(r->dir);
	free(r->name);
	memset(r, 0, sizeof *r);
	r->state = REC_FREE;
	r->next = p->free_rec;
	p->free_rec = i;
}

/* ---- spawning ------------------------------------------------------------ */

/* The plain fork: only ever taken while the process has a single thread. */
static void child_main(int in, int out)
{
	/* The child holds its own two pipe ends and nothing else: another
	 * worker's write end kept open here would hide that worker's EOF. */
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0)
		_exit(3);
	close_range(3, ~0U, 0);
	jg_worker_settle();
	_exit(jg_worker_main(0, 1));
}

/*
 * After fork() a threaded process's child may only call async-signal-safe
 * functions until it execs: another thread may have held malloc's lock at
 * the fork. A worker mallocs, so a threaded parent starts it by
 * posix_spawn() of the juggle-worker helper instead (glibc spawns with
 * CLONE_VFORK and reports a failed exec as the call's error).
 */
static int process_is_threaded(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	if (!f)
		return 1; /* cannot tell: take the safe way */
	char line[128];
	long threads = 1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "Threads: %ld", &threads) == 1)
			break;
	fclose(f);
	return threads > 1;
}

/*
 * jg_pool_new_exec()'s path, else $JUGGLE_WORKER, else the installed
 * helper, else one beside the running program (an uninstalled build tree,
 * where juggle and juggle-worker are built side by side).
 */
static const char *helper_path(struct jg_pool *p)
{
	if (p->helper)
		return p->helper;
	const char *env = getenv("JUGGLE_WORKER");
	if (env && *env)
		return env;
	if (access(JG_WORKER_PATH, X_OK) == 0)
		return JG_WORKER_PATH;
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 32);
	char *slash = n > 0 ? memrchr(exe, '/', (size_t)n) : NULL;
	if (slash) {
		strcpy(slash + 1, "juggle-worker");
		if (access(exe, X_OK) == 0 && (p->helper = strdup(exe)) != NULL)
			return p->helper;
	}
	return JG_WORKER_PATH;
}

static pid_t exec_helper(struct jg_pool *p, int in, int out, char *why, size_t why_len)
{
	const char *path = helper_path(p);
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in, 0);
	posix_spawn_file_actions_adddup2(&fa, out, 1);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	char *argv[] = {(char *)"juggle-worker", NULL};
	pid_t pid;
	int rc = posix_spawn(&pid, path, &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (rc != 0) {
		if (why)
			snprintf(why, why_len, "cannot start the worker helper %s: %s", path,
			         strerror(rc));
		return -1;
	}
	return pid;
}

static int spawn(struct worker *w, char *why, size_t why_len)
{
	int to[2], from[2];
	if (pipe2(to, O_CLOEXEC) < 0)
		goto fail;
	if (pipe2(from, O_CLOEXEC) < 0) {
		close(to[0]);
		close(to[1]);
		goto fail;
	}
	pid_t pid;
	if (w->p->forced_exec || process_is_threaded()) {
		pid = exec_helper(w->p, to[0], from[1], why, why_len);
		w->p->exec_starts++;
	} else {
		pid = fork();
		if (pid == 0)
			child_main(to[0], from[1]);
		if (pid < 0 && why)
			snprintf(why, why_len, "cannot start a worker process: %s", strerror(errno));
	}
	if (pid < 0) {
		close(to[0]);
		close(to[1]);
		close(from[0]);
		close(from[1]);
		return -1;
	}
	close(to[0]);
	close(from[1]);
	fcntl(to[1], F_SETFL, O_NONBLOCK);
	fcntl(from[0], F_SETFL, O_NONBLOCK);
	fcntl(to[1], F_SETPIPE_SZ, PIPE_SIZE);  /* best effort: fewer wakeups */
	fcntl(from[0], F_SETPIPE_SZ, PIPE_SIZE);
	w->pid = pid;
	w->to = to[1];
	w->from = from[0];
	w->alive = 1;
	w->in_len = 0;
	w->flushing = 0;
	w->outstanding = 0;
	return 0;
fail:
	if (why)
		snprintf(why, why_len, "cannot start a worker process: %s", strerror(errno));
	return -1;
}

static void on_read(struct ev_loop *loop, ev_io *io, int revents);
static void on_table_work(struct ev_loop *loop, ev_prepare *wp, int revents);
static void on_table_more(struct ev_loop *loop, ev_idle *w, int revents);
static void on_write(struct ev_loop *loop, ev_io *io, int revents);

static void watch(struct worker *w)
{
	if (!w->p->loop || !w->alive)
		return;
	ev_io_init(&w->rd, on_read, w->from, EV_READ);
	w->rd.data = w;
	ev_io_init(&w->wr, on_write, w->to, EV_WRITE);
	w->wr.data = w;
	/* While attached, the pool keeps the loop running: answers may come
	 * when nothing else is left to watch. */
	ev_io_start(w->p->loop, &w->rd);
}

static int pool_new(struct jg_pool **out, unsigned workers, const char *helper, char *errbuf)
{
	char why[JG_ERRBUF_SIZE] = "out of memory";
	*out = NULL;
	if (workers < 1 || workers > 256) {
		if (errbuf)
			snprintf(errbuf, JG_ERRBUF_SIZE, "workers must be 1 to 256");
		return JG_EINVAL;
	}
	struct jg_pool *p = calloc(1, sizeof *p);
	if (!p || !(p->w = calloc(workers, sizeof *p->w)) ||
	    (helper && !(p->helper = strdup(helper)))) {
		if (p)
			free(p->w);
		free(p);
		goto fail;
	}
	p->free_rec = NONE;
	p->forced_exec = helper != NULL;
	ev_prepare_init(&p->table_work, on_table_work);
	p->table_work.data = p;
	ev_idle_init(&p->table_more, on_table_more);
	/* A write to a dead worker's pipe must fail with EPIPE, not kill the
	 * process: ignore SIGPIPE unless the program chose a handler. */
	struct sigaction sa;
	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
		signal(SIGPIPE, SIG_IGN);
	jg_counts_init(&p->counts);
	for (unsigned i = 0; i < workers; i++) {
		struct worker *w = &p->w[i];
		w->p = p;
		w->fly_head = w->fly_tail = w->answered = NONE;
		jg_counts_init(&w->staging);
		jg_counts_init(&w->merging);
		p->n = i + 1;
		if (spawn(w, why, sizeof why) < 0) {
			jg_pool_free(p);
			goto fail;
		}
	}
	*out = p;
	return JG_OK;
fail:
	if (errbuf)
		snprintf(errbuf, JG_ERRBUF_SIZE, "%s", why);
	return JG_EPOOL;
}

JG_EXPORT int jg_pool_new(struct jg_pool **out, unsigned workers, char *errbuf)
{
	return pool_new(out, workers, NULL, errbuf);
}

JG_EXPORT int jg_pool_new_exec(struct jg_pool **out, unsigned workers, const char *helper,
                               char *errbuf)
{
	if (!helper || !*helper) {
		if (errbuf)
			snprintf(errbuf, JG_ERRBUF_SIZE, "no worker helper path given");
		return JG_EINVAL;
	}
	return pool_new(out, workers, helper, errbuf);
}

JG_EXPORT unsigned jg_pool_exec_starts(const struct jg_pool *p)
{
	return p->exec_starts;
}

int jg_pool_attach(struct jg_pool *p, struct ev_loop *loop)
{
	if (p->loop)
		return p->loop == loop ? 0 : -1;
	p->loop = loop;
	for (unsigned i = 0; i < p->n; i++)
		watch(&p->w[i]);
	return 0;
}

static void unwatch(struct worker *w)
{
	if (!w->p->loop)
		return;
	ev_io_stop(w->p->loop, &w->rd);
	ev_io_stop(w->p->loop, &w->wr);
}

static void drop_output(struct worker *w)
{
	while (w->out_head) {
		struct out_item *it = w->out_head;
		w->out_head = it->next;
		free(it->meta);
		free(it);
	}
	w->out_tail = NULL;
}

/* Reaps what has exited; off the default loop nobody else would. */
static void reap(struct jg_pool *p, int block)
{
	size_t keep = 0;
	for (size_t i = 0; i < p->n_dead; i++)
		if (waitpid(p->dead[i], NULL, block ? 0 : WNOHANG) == 0)
			p->dead[keep++] = p->dead[i];
	p->n_dead = keep;
}

static void close_worker(struct worker *w)
{
	struct jg_pool *p = w->p;
	unwatch(w);
	if (w->alive) {
		close(w->to);
		close(w->from);
	}
	w->alive = 0;
	w->write_broken = 0;
	drop_output(w);
	if (w->pid > 0) {
		if (p->n_dead == p->cap_dead) {
			size_t cap = p->cap_dead ? p->cap_dead * 2 : 8;
			pid_t *dead = realloc(p->dead, cap * sizeof *dead);
			if (dead) {
				p->dead = dead;
				p->cap_dead = cap;
			}
		}
		if (p->n_dead < p->cap_dead)
			p->dead[p->n_dead++] = w->pid;
		w->pid = 0;
	}
	reap(p, 0);
}

JG_EXPORT void jg_pool_free(struct jg_pool *p)
{
	if (!p)
		return;
	/* All pipes first, then the waits: the workers end side by side. */
	for (unsigned i = 0; i < p->n; i++)
		close_worker(&p->w[i]);
	reap(p, 1);
	free(p->dead);
	if (p->loop) {
		ev_prepare_stop(p->loop, &p->table_work);
		ev_idle_stop(p->loop, &p->table_more);
	}
	for (unsigned i = 0; i < p->n; i++) {
		free(p->w[i].in);
		jg_counts_fini(&p->w[i].staging);
		jg_counts_fini(&p->w[i].merging);
	}
	for (uint32_t i = 0; i < p->n_rec; i++)
		if (p->rec[i].state != REC_FREE)
			record_free(p, i);
	free(p->rec);
	free(p->w);
	jg_counts_fini(&p->counts);
	free(p->helper);
	free(p);
}

/* ---- sending ------------------------------------------------------------- */

static int flush_output(struct worker *w)
{
	while (w->out_head) {
		struct out_item *it = w->out_head;
		struct iovec iov[2];
		int n = 0;
		if (it->off < it->meta_len)
			iov[n++] = (struct iovec){it->meta + it->off, it->meta_len - it->off};
		size_t body_off = it->off > it->meta_len ? it->off - it->meta_len : 0;
		if (body_off < it->body_len)
			iov[n++] = (struct iovec){(char *)it->body + body_off, it->body_len - body_off};
		ssize_t wr = writev(w->to, iov, n);
		if (wr < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? 0 : -1;
		}
		it->off += (size_t)wr;
		if (it->off < it->meta_len + it->body_len)
			return 0;
		w->out_head = it->next;
		if (!w->out_head)
			w->out_tail = NULL;
		free(it->meta);
		free(it);
	}
	return 0;
}

static void kick_output(struct worker *w)
{
	/* A write that fails means the worker is going; its last answers may
	 * still be in the other pipe, so EOF there declares the death. */
	if (!w->write_broken && flush_output(w) < 0)
		w->write_broken = 1;
	if (w->write_broken) {
		if (w->p->loop)
			ev_io_stop(w->p->loop, &w->wr);
		return;
	}
	if (!w->p->loop)
		return;
	if (w->out_head && !ev_is_active(&w->wr))
		ev_io_start(w->p->loop, &w->wr);
	else if (!w->out_head && ev_is_active(&w->wr))
		ev_io_stop(w->p->loop, &w->wr);
}

static void on_write(struct ev_loop *loop, ev_io *io, int revents)
{
	kick_output(io->data);
}

static int enqueue(struct worker *w, uint8_t *meta, size_t meta_len, const char *body, size_t blen)
{
	struct out_item *it = calloc(1, sizeof *it);
	if (!it)
		return -1;
	it->meta = meta;
	it->meta_len = meta_len;
	it->body = body;
	it->body_len = blen;
	if (w->out_tail)
		w->out_tail->next = it;
	else
		w->out_head = it;
	w->out_tail = it;
	return 0;
}

static struct worker *least_loaded(struct jg_pool *p)
{
	struct worker *best = NULL;
	for (unsigned i = 0; i < p->n; i++) {
		struct worker *w = &p->w[i];
		if (w->alive && (!best || w->outstanding < best->outstanding))
			best = w;
	}
	return best;
}

static void fail_record(struct jg_pool *p, uint32_t i, int err, const char *why)
{
	struct record *r = &p->rec[i];
	jg_pool_done_cb done = r->done;
	void *user = r->user;
	uint64_t cookie = r->cookie;
	record_free(p, i);
	if (done) {
		struct jg_pool_result res = {.err = err, .error = why};
		done(user, cookie, &res);
	}
}

/* Sends record `i` to the least loaded worker; fails it if none lives. */
static void dispatch(struct jg_pool *p, uint32_t i)
{
	struct record *r = &p->rec[i];
	struct worker *w = least_loaded(p);
	if (!w) {
		fail_record(p, i, JG_EPOOL, "no worker process is running");
		return;
	}
	size_t body = r->type == JG_FRAME_BOOK ? r->len : 0;
	struct jg_msg_book m = {
		.dir = r->dir, .dir_len = strlen(r->dir),
		.name = r->name, .name_len = strlen(r->name),
		.charset = r->charset, .charset_len = strlen(r->charset),
		.expect_size = r->expect_size, .expect_ino = r->expect_ino,
		.body_len = body,
	};
	size_t meta_len = jg_msg_book_meta_len(&m);
	struct jg_frame_header h = {r->type, i, 0, r->flags};
	uint8_t *meta = malloc(meta_len);
	if (!meta || jg_msg_book_encode_meta(meta, &h, &m) < 0) {
		free(meta);
		fail_record(p, i, meta ? JG_ETOOLARGE : JG_ENOMEM,
		            meta ? "too large for a worker frame" : "out of memory");
		return;
	}
	if (enqueue(w, meta, meta_len, r->type == JG_FRAME_BOOK ? r->body : NULL, body) < 0) {
		free(meta);
		fail_record(p, i, JG_ENOMEM, "out of memory");
		return;
	}
	r->state = REC_INFLIGHT;
	r->next = NONE;
	if (w->fly_tail == NONE)
		w->fly_head = i;
	else
		p->rec[w->fly_tail].next = i;
	w->fly_tail = i;
	w->outstanding += body + 1;
	kick_output(w);
}

/* The one place a count spec becomes the BOOK frame's flags. */
static uint32_t wire_flags(const struct jg_count_spec *c)
{
	uint32_t f = (uint32_t)(c->top > JG_MSG_TOP_MAX ? JG_MSG_TOP_MAX : c->top)
	             << JG_BOOK_TOP_SHIFT;
	if (c->flags & JG_COUNT_WHITESPACE)
		f |= JG_BOOK_WHITESPACE;
	if (c->flags & JG_COUNT_KEEP_BOILERPLATE)
		f |= JG_BOOK_KEEP_BOILERPLATE;
	if (c->flags & JG_COUNT_OFF)
		f |= JG_BOOK_NO_COUNT;
	if (c->flags & JG_COUNT_NO_TOTALS)
		f |= JG_BOOK_NO_TABLE;
	if (c->html)
		f |= JG_BOOK_HTML;
	return f;
}

int jg_pool_submit(struct jg_pool *p, struct jg_pool_book *b)
{
	uint32_t i = record_new(p);
	if (i == NONE)
		return -1;
	struct record *r = &p->rec[i];
	memset(r, 0, sizeof *r);
	r->type = b->job == JG_POOL_SAVE ? JG_FRAME_BOOK : JG_FRAME_RECOUNT;
	r->dir = strdup(b->dir);
	r->name = strdup(b->name);
	snprintf(r->charset, sizeof r->charset, "%s", b->charset ? b->charset : "");
	r->expect_size = b->expect_size;
	r->expect_ino = b->expect_ino;
	if (!r->dir || !r->name) {
		record_free(p, i);
		return -1;
	}
	r->body = b->body;
	r->len = b->len;
	b->body = NULL;
	p->held += r->len;
	r->flags = wire_flags(&b->count);
	r->done = b->done;
	r->user = b->user;
	r->cookie = b->cookie;
	dispatch(p, i);
	return 0;
}

/* ---- receiving ----------------------------------------------------------- */

static uint32_t pop_inflight(struct worker *w)
{
	uint32_t i = w->fly_head;
	if (i == NONE)
		return NONE;
	w->fly_head = w->p->rec[i].next;
	if (w->fly_head == NONE)
		w->fly_tail = NONE;
	return i;
}

static int handle_result(struct worker *w, const struct jg_frame_header *h, const uint8_t *payload)
{
	struct jg_pool *p = w->p;
	static_assert(JG_MSG_TOP_MAX == 64, "the result's top words fit these arrays");
	struct jg_msg_result m;
	/* Check before taking the book off the list: a bad answer kills the
	 * worker, and the book must still be on it to be sent again. */
	if (w->fly_head == NONE || w->fly_head != h->id ||
	    jg_msg_result_decode(payload, h->length, &m) < 0)
		return -1; /* answers come in the order books were sent */
	uint32_t i = pop_inflight(w);
	struct record *r = &p->rec[i];
	w->outstanding -= (r->type == JG_FRAME_BOOK ? r->len : 0) + 1;
	struct jg_word_count top[JG_MSG_TOP_MAX];
	char words[JG_MSG_TOP_MAX][JG_MSG_WORD_MAX + 1];
	for (size_t k = 0; k < m.n_top; k++) {
		memcpy(words[k], m.top[k].word, m.top[k].len);
		words[k][m.top[k].len] = '\0';
		top[k] = (struct jg_word_count){words[k], m.top[k].count};
	}
	char why[JG_MSG_WORD_MAX + 1], note[JG_MSG_WORD_MAX + 1], cs[JG_MSG_CHARSET_MAX + 1];
	snprintf(why, sizeof why, "%.*s", (int)m.error_len, m.error);
	snprintf(note, sizeof note, "%.*s", (int)m.note_len, m.note);
	snprintf(cs, sizeof cs, "%.*s", (int)m.charset_len, m.charset);
	int counted = !m.err && m.charset_len && m.charset_from;
	struct jg_pool_result res = {m.err, why, m.words, m.distinct, m.n_top, top,
	                             m.err ? NULL : m.sha256, counted ? cs : NULL,
	                             counted ? jg_charset_from_name((enum jg_charset_from)m.charset_from) : NULL,
	                             note};
	/* Saved: the body is no longer needed; a recount reads the file. */
	if (r->body)
		p->held -= r->len;
	free(r->body);
	r->body = NULL;
	jg_pool_done_cb done = r->done;
	void *user = r->user;
	uint64_t cookie = r->cookie;
	if (m.err != 0 || (r->flags & (JG_BOOK_NO_COUNT | JG_BOOK_NO_TABLE))) {
		record_free(p, i); /* nothing of it is in the worker's table */
	} else {
		r->state = REC_ANSWERED;
		r->done = NULL;
		r->next = w->answered;
		w->answered = i;
	}
	if (done)
		done(user, cookie, &res);
	return 0;
}

/* What the loop spends on tables, by iteration: tests keep it bounded. */
static void took(struct jg_pool *p, size_t entries)
{
	unsigned turn = ev_iteration(p->loop);
	if (turn != p->turn) {
		p->turn = turn;
		p->turn_took = 0;
	}
	p->turn_took += entries;
	if (p->turn_took > p->most_in_a_turn)
		p->most_in_a_turn = p->turn_took;
}

static int stage_word(void *ctx, const char *word, size_t len, uint64_t count)
{
	struct worker *w = ctx;
	w->staged++;
	return jg_counts_add(&w->staging, word, len, jg_wc_hash(word, len), count);
}

/* A TABLE frame's words into the table arriving. */
static int stage_frame(struct worker *w, const struct jg_frame_header *h, const uint8_t *payload)
{
	w->staged = 0;
	int rc = jg_msg_table_decode(payload, h->length, stage_word, w);
	took(w->p, w->staged);
	return rc;
}

/*
 * Slots of a table merged at a time, between looks at the clock: some
 * 10-20 µs of work. A turn merges at least one such step, so a busy loop
 * still gets through a table.
 */
enum { MERGE_STEP = 512 };

/* 1 when `w`'s table is all in the pool's, 0 when more is left. */
static int merge_some(struct worker *w)
{
	struct jg_pool *p = w->p;
	do {
		size_t budget = MERGE_STEP;
		int rc = jg_counts_drain(&p->counts, &w->merging, &w->merge_at, &budget);
		took(p, MERGE_STEP - budget);
		if (rc < 0)
			return 0; /* out of memory: the next turn tries the same word again */
		if (rc > 0) {
			w->merge_pending = 0;
			return 1;
		}
	} while (!jg_slice_spent(p->loop));
	return 0;
}

static void start_table_work(struct jg_pool *p)
{
	if (!ev_is_active(&p->table_work))
		ev_prepare_start(p->loop, &p->table_work);
}

/*
 * A whole table arrived: its books' counts are the pool's from now on,
 * whatever becomes of the worker, and go into the pool's table over the
 * next turns. Its books are done with.
 */
static int handle_table_end(struct worker *w)
{
	struct jg_pool *p = w->p;
	struct jg_counts whole = w->staging;
	w->staging = w->merging; /* drained: empty, its memory kept */
	w->merging = whole;
	w->merge_at = (struct jg_counts_cursor){0, 0};
	if (jg_counts_distinct(&p->counts) == 0) {
		/* Into an empty table a table goes whole, by taking its place
		 * (the empty one, its memory kept, stages the next): with one
		 * worker, the run's only table is not copied word by word. */
		struct jg_counts empty = p->counts;
		p->counts = w->merging;
		w->merging = empty;
	} else {
		w->merge_pending = 1;
		if (!merge_some(w))
			start_table_work(p);
	}
	while (w->answered != NONE) {
		uint32_t i = w->answered;
		w->answered = p->rec[i].next;
		record_free(p, i);
	}
	w->flushing = 0;
	return 0;
}

static int handle_frame(struct worker *w, const struct jg_frame_header *h, const uint8_t *payload)
{
	switch (h->type) {
	case JG_FRAME_RESULT: return handle_result(w, h, payload);
	case JG_FRAME_TABLE: return stage_frame(w, h, payload);
	case JG_FRAME_TABLE_END: return handle_table_end(w);
	default: return -1;
	}
}

/*
 * Handles the whole frames buffered from `w`. 0 when done, 1 when the
 * worker died meanwhile (a callback's write found its pipe closed: its
 * buffer now belongs to a new process), 2 when the rest waits for a later
 * turn, -1 on a malformed frame. Answers are handled as they come; a
 * table's frames, some 1,000 words each, one at least and then while the
 * slice lasts, and its end once the table before it is merged.
 */
static int parse_input(struct worker *w)
{
	size_t off = 0;
	unsigned generation = w->generation, tables = 0;
	int rc = 0;
	for (;;) {
		struct jg_frame_header h;
		int got = jg_frame_decode_header(w->in + off, w->in_len - off, &h);
		if (got < 0)
			return -1;
		if (got == 0 || w->in_len - off - JG_FRAME_HEADER < h.length)
			break;
		if (h.type == JG_FRAME_TABLE || h.type == JG_FRAME_TABLE_END) {
			if ((tables && jg_slice_spent(w->p->loop)) ||
			    (h.type == JG_FRAME_TABLE_END && w->merge_pending)) {
				rc = 2;
				break;
			}
			tables++;
		}
		if (handle_frame(w, &h, w->in + off + JG_FRAME_HEADER) < 0)
			return -1;
		off += JG_FRAME_HEADER + h.length;
		if (w->generation != generation)
			return 1;
	}
	memmove(w->in, w->in + off, w->in_len - off);
	w->in_len -= off;
	return rc;
}

/* Frames wait in `w->in`: no more is read from its pipe (the worker
 * waits on it) until they are handled, in a later turn. */
static void hold_input(struct worker *w)
{
	w->backlog = 1;
	ev_io_stop(w->p->loop, &w->rd);
	start_table_work(w->p);
}

/*
 * Before the loop waits: the tables' work left over from this turn and
 * earlier ones, a step for each worker at least, then while the slice
 * lasts.
 */
static int table_work_left(const struct jg_pool *p)
{
	for (unsigned i = 0; i < p->n; i++)
		if (p->w[i].merge_pending || p->w[i].backlog)
			return 1;
	return 0;
}

static void on_table_work(struct ev_loop *loop, ev_prepare *wp, int revents)
{
	struct jg_pool *p = wp->data;
	for (unsigned i = 0; i < p->n; i++) {
		struct worker *w = &p->w[i];
		if (w->merge_pending && !merge_some(w))
			continue;
		if (!w->backlog)
			continue;
		int rc = parse_input(w); /* may end a table: merge_pending again */
		if (rc < 0) {
			worker_dead(w);
		} else if (rc == 0) {
			w->backlog = 0;
			ev_io_start(loop, &w->rd); /* and what the pipe holds */
		}
	}
	if (table_work_left(p))
		ev_idle_start(loop, &p->table_more);
	else
		ev_prepare_stop(loop, wp);
	check_collect(p);
}

static void on_table_more(struct ev_loop *loop, ev_idle *w, int revents)
{
	/* Only there to keep the loop from waiting while work is left. */
	ev_idle_stop(loop, w);
}

static void on_read(struct ev_loop *loop, ev_io *io, int revents)
{
	struct worker *w = io->data;
	for (;;) {
		if (w->in_cap - w->in_len < READ_CHUNK) {
			size_t cap = w->in_cap ? w->in_cap * 2 : 2 * READ_CHUNK;
			uint8_t *in = realloc(w->in, cap);
			if (!in) {
				worker_dead(w);
				return;
			}
			w->in = in;
			w->in_cap = cap;
		}
		ssize_t n = read(w->from, w->in + w->in_len, w->in_cap - w->in_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) { /* EOF: the worker is gone */
			worker_dead(w);
			return;
		}
		w->in_len += (size_t)n;
		int rc = parse_input(w);
		if (rc < 0) {
			worker_dead(w);
			return;
		}
		if (rc == 2)
			hold_input(w);
		if (rc > 0)
			break;
		if ((size_t)n < READ_CHUNK)
			break;
	}
	check_collect(w->p);
}

/* ---- death and recovery -------------------------------------------------- */

static void worker_dead(struct worker *w)
{
	struct jg_pool *p = w->p;
	if (!w->alive)
		return;
	w->generation++;
	p->dispatching++;
	close_worker(w);
	w->in_len = 0;
	w->backlog = 0;
	w->outstanding = 0;
	w->flushing = 0;
	jg_counts_clear(&w->staging); /* a torn table is dropped whole */
	/* Its running table died with it: answered books are counted again. */
	uint32_t again = NONE, last = NONE;
	while (w->answered != NONE) {
		uint32_t i = w->answered;
		w->answered = p->rec[i].next;
		p->rec[i].type = JG_FRAME_RECOUNT;
		p->rec[i].next = NONE;
		if (last == NONE)
			again = i;
		else
			p->rec[last].next = i;
		last = i;
	}
	/* The oldest unanswered book was being worked on when it died. */
	uint32_t first = pop_inflight(w);
	uint32_t rest = w->fly_head;
	w->fly_head = w->fly_tail = NONE;
	if (p->respawns < MAX_RESPAWNS && spawn(w, NULL, 0) == 0) {
		p->respawns++;
		watch(w);
	}
	if (first != NONE) {
		if (++p->rec[first].deaths >= 2)
			fail_record(p, first, JG_EWORKER, "a worker process died twice on this book");
		else
			dispatch(p, first);
	}
	while (rest != NONE) {
		uint32_t next = p->rec[rest].next;
		dispatch(p, rest);
		rest = next;
	}
	while (again != NONE) {
		uint32_t next = p->rec[again].next;
		dispatch(p, again);
		again = next;
	}
	/* Only the outermost call may judge the collection: inner ones run
	 * while records sit on no worker's list. */
	if (--p->dispatching == 0)
		check_collect(p);
}

/* ---- collection ---------------------------------------------------------- */

static void send_flush(struct worker *w)
{
	uint8_t *meta = malloc(JG_FRAME_HEADER);
	if (!meta || enqueue(w, meta, JG_FRAME_HEADER, NULL, 0) < 0) {
		free(meta);
		return;
	}
	jg_msg_flush_encode(meta);
	w->flushing = 1;
	kick_output(w);
}

static void check_collect(struct jg_pool *p)
{
	if (!p->collect_cb || p->dispatching)
		return;
	int busy = table_work_left(p); /* a table on its way into the pool's */
	for (unsigned i = 0; i < p->n; i++) {
		struct worker *w = &p->w[i];
		if (!w->alive || (w->fly_head == NONE && w->answered == NONE))
			continue;
		busy = 1;
		if (!w->flushing && w->fly_head == NONE)
			send_flush(w);
	}
	if (busy)
		return;
	jg_counts_cb cb = p->collect_cb;
	p->collect_cb = NULL;
	cb(p, &p->counts, p->collect_user);
}

JG_EXPORT int jg_pool_collect(struct jg_pool *p, jg_counts_cb cb, void *user)
{
	if (!p || !cb || !p->loop)
		return JG_EINVAL;
	p->collect_cb = cb;
	p->collect_user = user;
	check_collect(p);
	return JG_OK;
}

uint64_t jg_pool_held(const struct jg_pool *p)
{
	return p->held;
}

void jg_pool_forget(struct jg_pool *p, void *user, void (*fn)(void *user, uint64_t cookie))
{
	for (uint32_t i = 0; i < p->n_rec; i++) {
		struct record *r = &p->rec[i];
		if (r->state == REC_FREE || !r->done || r->user != user)
			continue;
		r->done = NULL;
		fn(user, r->cookie);
	}
}

size_t jg_pool_pids(const struct jg_pool *p, pid_t *out, size_t max)
{
	size_t n = 0;
	for (unsigned i = 0; i < p->n && n < max; i++)
		if (p->w[i].alive)
			out[n++] = p->w[i].pid;
	return n;
}

size_t jg_pool_most_in_a_turn(const struct jg_pool *p)
{
	return p->most_in_a_turn;
}

int jg_pool_merging(const struct jg_pool *p)
{
	for (unsigned i = 0; i < p->n; i++)
		if (p->w[i].merge_pending)
			return 1;
	return 0;
}

JG_EXPORT unsigned jg_pool_restarts(const struct jg_pool *p)
{
	return p->respawns;
}
