/*
 * The threads engine: the baseline juggle is compared against. Each
 * transfer runs in a blocking curl_easy_perform() on one of a pool of
 * threads, the C analogue of a ThreadPoolExecutor; the finished transfer
 * travels back to the loop thread through an ev_async, where jg_fetch's
 * `done` callback sees it exactly as it sees one of the loop engine's.
 *
 * Only the thread touches a transfer in flight: it works on a copy of its
 * own (struct jg_task), so cancelling never waits for the thread.
 */
#include "fetch.h"
#include "engine.h"

#include "stall.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * Threads get small stacks: curl_easy_perform() needs little, and 2,000
 * threads at glibc's 8 MiB would reserve 16 GiB of address space. Only
 * touched pages cost memory, so this changes no RSS figure.
 */
enum { THREAD_STACK = 512 * 1024 };

struct jg_task {
	struct jg_transfer work;   /* the thread's transfer; curl writes here */
	struct jg_transfer *owner; /* loop thread only; NULL once cancelled */
	int owner_sink;            /* the owner's fd; work.sink is our dup of it */
	struct jg_task *next;
	_Atomic int cancelled;
};

struct task_list {
	struct jg_task *head, *tail;
};

struct jg_threads {
	struct jg_fetch *f;
	pthread_mutex_t lock;
	pthread_cond_t work_ready;
	/* Under `lock`: */
	struct task_list queue;     /* waiting for a thread */
	struct task_list done;      /* finished, waiting for the loop */
	unsigned queued, idle;
	int stopping;
	/* Loop thread only: */
	pthread_t *ids;
	unsigned started, max;
	unsigned in_flight;         /* submitted, not yet collected */
	ev_async wake;
};

static void list_push(struct task_list *l, struct jg_task *t)
{
	t->next = NULL;
	if (l->tail)
		l->tail->next = t;
	else
		l->head = t;
	l->tail = t;
}

static struct jg_task *list_pop(struct task_list *l)
{
	struct jg_task *t = l->head;
	if (t && !(l->head = t->next))
		l->tail = NULL;
	return t;
}

/* ---- in an engine thread ------------------------------------------------ */

/* CURLOPT_XFERINFOFUNCTION: the thread's stall timer and cancel check.
 * curl calls it often while data flows, about once a second otherwise. */
static int on_progress(void *p, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
	struct jg_task *task = p;
	struct jg_transfer *w = &task->work;
	if (task->cancelled)
		return 1;
	if (ev_time() - w->last_activity >= w->f->cfg.stall_timeout) {
		w->stalled = 1;
		return 1;
	}
	return 0;
}

static void perform(struct jg_task *task)
{
	struct jg_transfer *w = &task->work;
	if (task->cancelled) {
		w->code = CURLE_ABORTED_BY_CALLBACK;
		return;
	}
	w->last_activity = ev_time();
	w->code = curl_easy_perform(w->easy);
	if (w->stalled)
		w->code = CURLE_OPERATION_TIMEDOUT;
	curl_easy_getinfo(w->easy, CURLINFO_RESPONSE_CODE, &w->http_code);
	curl_off_t ra = 0;
	if (curl_easy_getinfo(w->easy, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
		w->retry_after = (double)ra;
}

static void *thread_main(void *arg)
{
	struct jg_threads *th = arg;
	pthread_mutex_lock(&th->lock);
	for (;;) {
		while (!th->queue.head && !th->stopping) {
			th->idle++;
			pthread_cond_wait(&th->work_ready, &th->lock);
			th->idle--;
		}
		struct jg_task *task = list_pop(&th->queue);
		if (!task)
			break; /* stopping, and nothing left to run */
		th->queued--;
		pthread_mutex_unlock(&th->lock);
		perform(task);
		pthread_mutex_lock(&th->lock);
		list_push(&th->done, task);
		/* Thread-safe by libev's contract; coalesces with other sends. */
		ev_async_send(th->f->loop, &th->wake);
	}
	pthread_mutex_unlock(&th->lock);
	return NULL;
}

/* ---- on the loop thread ------------------------------------------------- */

/* What a cancelled task still holds goes back as a finished one would. */
static void discard(struct jg_task *task)
{
	if (task->work.sink >= 0)
		close(task->work.sink);
	jg_fetch_release(&task->work);
	free(task);
}

static void hand_back(struct jg_threads *th, struct jg_task *task)
{
	struct jg_fetch *f = th->f;
	struct jg_transfer *t = task->owner;
	if (--th->in_flight == 0) {
		/* Nothing in flight: the loop need not stay alive for us. */
		ev_async_stop(f->loop, &th->wake);
	}
	if (!t) {
		discard(task); /* cancelled: jg_fetch_cancel counted it out */
		return;
	}
	f->running--;
	if (task->work.sink >= 0)
		close(task->work.sink);
	*t = task->work;
	t->sink = task->owner_sink;
	t->threaded = 0;
	t->task = NULL;
	/* curl still points at the task's error buffer, about to be freed. */
	curl_easy_setopt(t->easy, CURLOPT_ERRORBUFFER, t->errbuf);
	free(task);
	f->done(t);
}

static void on_wake(struct ev_loop *loop, ev_async *w, int revents)
{
	struct jg_threads *th = w->data;
	pthread_mutex_lock(&th->lock);
	struct task_list done = th->done;
	th->done.head = th->done.tail = NULL;
	pthread_mutex_unlock(&th->lock);
	struct jg_task *task;
	while (!jg_slice_spent(loop) && (task = list_pop(&done)) != NULL)
		hand_back(th, task);
	if (done.head) {
		/* Out of time: the rest goes first next turn. */
		pthread_mutex_lock(&th->lock);
		done.tail->next = th->done.head;
		if (!th->done.head)
			th->done.tail = done.tail;
		th->done.head = done.head;
		pthread_mutex_unlock(&th->lock);
		ev_async_send(loop, &th->wake);
	}
}

static int threads_init(struct jg_fetch *f, unsigned max_threads, char *why, size_t why_len)
{
	struct jg_threads *th = calloc(1, sizeof *th);
	if (th)
		th->ids = calloc(max_threads, sizeof *th->ids);
	if (!th || !th->ids) {
		free(th);
		snprintf(why, why_len, "out of memory");
		return -1;
	}
	th->f = f;
	th->max = max_threads;
	pthread_mutex_init(&th->lock, NULL);
	pthread_cond_init(&th->work_ready, NULL);
	ev_async_init(&th->wake, on_wake);
	th->wake.data = th;
	f->threads = th;
	return 0;
}

/* Engine threads take no signal: the loop thread's handlers get them all. */
static int start_thread(struct jg_threads *th, char *why, size_t why_len)
{
	pthread_attr_t attr;
	sigset_t all, old;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, THREAD_STACK);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = pthread_create(&th->ids[th->started], &attr, thread_main, th);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		snprintf(why, why_len, "cannot start thread %u of the threads engine: %s",
		         th->started + 1, strerror(rc));
		return -1;
	}
	th->started++;
	return 0;
}

static int threads_start(struct jg_fetch *f, struct jg_transfer *t)
{
	struct jg_threads *th = f->threads;
	struct jg_task *task = calloc(1, sizeof *task);
	if (!task) {
		snprintf(t->errbuf, sizeof t->errbuf, "out of memory");
		return -1;
	}
	/* The job's file is the loop thread's: a body that may be kept gets
	 * its temporary name now, the one the thread's copy links from. */
	struct jg_range *r = &t->range;
	if (r->sink_file && r->url && !r->sink_name &&
	    jg_store_name(f->cfg.store, r->sink_file) == 0)
		r->sink_name = strdup(r->sink_file->name); /* NULL: not kept */
	r->sink_file = NULL;
	task->work = *t;
	task->work.threaded = 1;
	task->owner = t;
	task->owner_sink = t->sink;
	/* The thread writes through its own descriptor: a cancelled owner
	 * closes its own at once, and the number could be reused meanwhile. */
	if (t->sink >= 0 && (task->work.sink = dup(t->sink)) < 0) {
		snprintf(t->errbuf, sizeof t->errbuf, "dup: %s", strerror(errno));
		free(task);
		return -1;
	}
	CURL *e = task->work.easy;
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &task->work);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, &task->work);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, &task->work);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, task->work.errbuf);
	curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(e, CURLOPT_XFERINFODATA, task);
	curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);

	/* Started before any thread can see the task: ev_async_start()
	 * forgets a send that came before it. */
	if (th->in_flight++ == 0)
		ev_async_start(f->loop, &th->wake);
	pthread_mutex_lock(&th->lock);
	/* Another thread only when every thread is busy, as a
	 * ThreadPoolExecutor does; `idle` counts threads not yet woken. */
	int need_thread = th->queued + 1 > th->idle && th->started < th->max;
	if (need_thread && start_thread(th, t->errbuf, sizeof t->errbuf) < 0 && th->started == 0) {
		pthread_mutex_unlock(&th->lock);
		if (task->work.sink >= 0)
			close(task->work.sink);
		free(task);
		if (--th->in_flight == 0)
			ev_async_stop(f->loop, &th->wake);
		return -1; /* no thread at all; with some, the task waits for one */
	}
	list_push(&th->queue, task);
	th->queued++;
	pthread_cond_signal(&th->work_ready);
	pthread_mutex_unlock(&th->lock);
	/* The task owns the handle now; `t` only waits for it. */
	struct jg_fetch *owner_f = t->f;
	memset(t, 0, sizeof *t);
	t->f = owner_f;
	t->sink = task->owner_sink;
	t->task = task;
	return 0;
}

static void threads_cancel(struct jg_transfer *t)
{
	struct jg_task *task = t->task;
	if (!task) {
		jg_fetch_release(t); /* handed back already: only ours */
		return;
	}
	task->owner = NULL;
	task->cancelled = 1;
	t->task = NULL;
	t->f->running--;
	/* The thread hands it back through on_wake, which discards it. */
}

static unsigned threads_started(const struct jg_fetch *f)
{
	return f->threads ? f->threads->started : 0;
}

static void threads_fini(struct jg_fetch *f)
{
	struct jg_threads *th = f->threads;
	pthread_mutex_lock(&th->lock);
	th->stopping = 1;
	pthread_cond_broadcast(&th->work_ready);
	pthread_mutex_unlock(&th->lock);
	for (unsigned i = 0; i < th->started; i++)
		pthread_join(th->ids[i], NULL);
	/* No thread is left: what they finished is only ours to discard. */
	struct jg_task *task;
	while ((task = list_pop(&th->done)) != NULL || (task = list_pop(&th->queue)) != NULL)
		discard(task);
	if (ev_is_active(&th->wake))
		ev_async_stop(f->loop, &th->wake);
	pthread_mutex_destroy(&th->lock);
	pthread_cond_destroy(&th->work_ready);
	free(th->ids);
	free(th);
	f->threads = NULL;
}

const struct jg_engine_ops jg_engine_threads = {
	.name = "threads",
	.init = threads_init,
	.fini = threads_fini,
	.start = threads_start,
	.cancel = threads_cancel,
	.threads_started = threads_started,
};
