#include "worker.h"

#include "boilerplate.h"
#include "charset.h"
#include "juggle.h"
#include "proto.h"
#include "store.h"
#include "tokenize.h"
#include "wordcount.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

enum { WORKER_NICE = 10, FILE_KEEP_MAX = 16 << 20 };

struct worker {
	int in, out;
	struct jg_store store;
	int store_open;
	struct jg_tokenizer tok;
	struct jg_wordcount book;     /* the current book */
	struct jg_wordcount running;  /* since the last hand-over */
	unsigned books_since;
	uint64_t bytes_since;
	struct jg_writer w;
	EVP_MD *sha256;               /* fetched once: a per-book fetch is a */
	EVP_MD_CTX *md;               /* lookup under a lock, and a context */
	uint8_t *payload;             /* reused: a fresh buffer per book would */
	size_t payload_cap;           /* page-fault its way through every body */
	char *file;                   /* a saved book read back; reused likewise */
	size_t file_cap;
	const char *map;              /* a larger one, mapped while it is read */
	size_t map_len;
	int map_fd;                   /* and its descriptor, -1 when none */
	struct jg_text text;          /* the current book's UTF-8 text */
	uint64_t book_words, book_distinct; /* the current book's count */
	const struct jg_word *top[JG_MSG_TOP_MAX]; /* its most frequent words */
	size_t n_top;
	const char *abort_on;         /* fault injection for the tests */
#ifdef JG_TEST_HOOKS
	unsigned long long cut_bytes; /* the tests': cut off a mapped book's end */
	int cut_at_hash;              /* just before the hash, not once mapped */
#endif
};

static int read_full(int fd, void *buf, size_t n)
{
	char *p = buf;
	while (n > 0) {
		ssize_t r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Writes the sealed frame in the writer. */
static int send_written(struct worker *k)
{
	if (k->w.failed)
		return -1;
	return jg_write_all(k->out, k->w.buf, k->w.len);
}

static int send_table(struct worker *k)
{
	const struct jg_wordcount *wc = &k->running;
	jg_msg_table_begin(&k->w);
	for (size_t i = 0; wc->slots && i <= wc->mask; i++) {
		const struct jg_word *e = &wc->slots[i];
		if (e->word && jg_msg_table_add(&k->w, e->word, e->len, e->count)) {
			jg_msg_table_seal(&k->w);
			if (send_written(k) < 0)
				return -1;
			jg_msg_table_begin(&k->w);
		}
	}
	if (k->w.entries) {
		jg_msg_table_seal(&k->w);
		if (send_written(k) < 0)
			return -1;
	}
	jg_msg_table_end(&k->w);
	if (send_written(k) < 0)
		return -1;
	jg_wc_clear(&k->running);
	k->books_since = 0;
	k->bytes_since = 0;
	return 0;
}

/* The longest prefix of `s` (at most `max` bytes) that ends on a UTF-8
 * character boundary: a word or message cut short stays valid UTF-8. */
static size_t utf8_prefix(const char *s, size_t len, size_t max)
{
	if (len <= max)
		return len;
	size_t n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return n;
}

/* What a book's count says, beyond its table. */
struct counted {
	char charset[JG_CHARSET_NAME_MAX + 1];
	enum jg_charset_from from;
	char note[200];
};

static int send_result(struct worker *k, uint32_t id, int err, const char *why,
                       const uint8_t sha256[32], const struct counted *ct)
{
	struct jg_msg_result m;
	memset(&m, 0, sizeof m);
	m.err = err;
	m.words = k->book_words;
	m.distinct = k->book_distinct;
	m.n_top = err ? 0 : k->n_top;
	for (size_t i = 0; i < m.n_top; i++) {
		m.top[i].word = k->top[i]->word;
		m.top[i].len = utf8_prefix(k->top[i]->word, k->top[i]->len, JG_MSG_WORD_MAX);
		m.top[i].count = k->top[i]->count;
	}
	m.error = why;
	m.error_len = utf8_prefix(why, strlen(why), JG_MSG_WORD_MAX);
	memcpy(m.sha256, sha256, sizeof m.sha256);
	if (ct && !err) {
		m.charset = ct->charset;
		m.charset_len = strlen(ct->charset);
		m.charset_from = (uint8_t)ct->from;
		m.note = ct->note;
		m.note_len = strlen(ct->note);
	}
	jg_writer_begin_frame(&k->w);
	jg_msg_result_encode(&k->w, &m);
	jg_writer_seal(&k->w, JG_FRAME_RESULT, id, 0);
	return send_written(k);
}

/*
 * Counts `body` into the book table: its charset decided (`http_charset`
 * from the answer, "" when none), its text found (not in HTML:
 * Gutenberg's markers are plain-text lines). 0, or -1 on ENOMEM.
 */
static int count_book(struct worker *k, const char *body, size_t len, uint32_t flags,
                      const char *http_charset, struct counted *ct)
{
	/* In the worker, not on the stack: a jump out of a cut-short book
	 * frees what its conversion made so far (read_body()). */
	struct jg_text *text = &k->text;
	if (jg_text_decode(body, len, http_charset, text) < 0) {
		jg_text_fini(text);
		return -1;
	}
	snprintf(ct->charset, sizeof ct->charset, "%s", text->charset);
	ct->from = text->from;
	snprintf(ct->note, sizeof ct->note, "%s", text->note);
	size_t start = 0, end = text->len;
	if (!(flags & (JG_BOOK_KEEP_BOILERPLATE | JG_BOOK_HTML)))
		jg_text_strip_boilerplate(text->text, text->len, &start, &end);
	enum jg_split mode = (flags & JG_BOOK_WHITESPACE) ? JG_SPLIT_WHITESPACE : JG_SPLIT_WORDS;
	int rc = jg_tokenize(&k->tok, text->text + start, end - start, mode, &k->book);
	jg_text_fini(text);
	k->book_words = k->book.total;
	k->book_distinct = k->book.distinct;
	return rc;
}

/* The counted book into the running table, its `top_n` most frequent
 * words kept in k->top. 0, or -1 on ENOMEM. */
static int add_book(struct worker *k, uint32_t flags, unsigned top_n)
{
	size_t n = top_n > JG_MSG_TOP_MAX ? JG_MSG_TOP_MAX : top_n;
	if (!(flags & JG_BOOK_NO_TABLE) && k->running.distinct == 0 &&
	    k->running.mask <= k->book.mask) {
		/* The running table is empty and no larger than the book's
		 * (none yet: a worker's first book, as in a one-book run): the
		 * book's table becomes the running one, with no word copied. A
		 * larger one is not taken for the book's: a book is counted in
		 * a table sized to its own vocabulary, which stays in cache and
		 * is cleared for each book. */
		struct jg_wordcount empty = k->running;
		k->running = k->book;
		k->book = empty;
		k->n_top = jg_wc_top(&k->running, n, k->top);
		return 0;
	}
	if (flags & JG_BOOK_NO_TABLE) {
		k->n_top = jg_wc_top(&k->book, n, k->top);
		return 0;
	}
	return jg_wc_merge_top(&k->running, &k->book, n, k->top, &k->n_top);
}

/* The manifest records it, so a resumed run or a user can check the file;
 * hashing here keeps that work off the loop. All zero when it fails. */
static void hash_book(struct worker *k, const char *body, size_t len, uint8_t digest[32])
{
	const EVP_MD *md = k->sha256 ? k->sha256 : EVP_sha256();
	if (!k->md)
		k->md = EVP_MD_CTX_new();
	if (!k->md || !EVP_DigestInit_ex(k->md, md, NULL) || !EVP_DigestUpdate(k->md, body, len) ||
	    !EVP_DigestFinal_ex(k->md, digest, NULL))
		memset(digest, 0, 32);
}

/*
 * Where a mapped book's reader jumps when the file is cut short under it:
 * touching a page past the new end raises SIGBUS (a hostile directory, or
 * another program truncating the book). File statics, against the rule,
 * because a signal handler can reach nothing else; set only while the
 * mapping is read, by the one thread of a worker.
 */
static sigjmp_buf *volatile cut_short;
static const char *volatile cut_from, *volatile cut_to;

static void on_sigbus(int sig, siginfo_t *si, void *ctx)
{
	(void)ctx;
	const char *at = si->si_addr;
	if (si->si_code > 0 && cut_short && at >= cut_from && at < cut_to)
		siglongjmp(*cut_short, 1);
	/* Not a mapped book's fault (or sent by kill): die of it, as before. */
	signal(sig, SIG_DFL);
	raise(sig);
}

#ifdef JG_TEST_HOOKS
/* The tests' stand-in for another program truncating a mapped book: cuts
 * k->cut_bytes off its end (all of it, when the book is shorter). */
static void test_cut(struct worker *k, int at_hash)
{
	if (!k->cut_bytes || at_hash != k->cut_at_hash || k->map_fd < 0)
		return;
	char self[64];
	snprintf(self, sizeof self, "/proc/self/fd/%d", k->map_fd);
	int w = open(self, O_WRONLY | O_CLOEXEC);
	off_t to = k->map_len > k->cut_bytes ? (off_t)(k->map_len - k->cut_bytes) : 0;
	if (w < 0 || ftruncate(w, to) < 0)
		abort();
	close(w);
}
#else
static void test_cut(struct worker *k, int at_hash)
{
	(void)k;
	(void)at_hash;
}
#endif

/* A mapped book is whole only if its file still has the size mapped: a
 * file cut short within its last page raises no SIGBUS (the bytes past
 * the new end read as zeros). */
static const char *changed_while_read(const struct worker *k)
{
	struct stat st;
	if (k->map_fd < 0)
		return NULL;
	if (fstat(k->map_fd, &st) < 0)
		return strerror(errno);
	if ((uint64_t)st.st_size < k->map_len)
		return "cut short while it was read";
	if ((uint64_t)st.st_size > k->map_len)
		return "changed while it was read";
	return NULL;
}

/* Nothing of the current book: its text, table, count and top words. */
static void forget_book(struct worker *k)
{
	jg_text_fini(&k->text);
	jg_wc_clear(&k->book);
	k->book_words = k->book_distinct = 0;
	k->n_top = 0;
}

/* A mapped book found not whole: forgotten, and JG_EIO saying `what`. */
static int book_lost(struct worker *k, const char *name, const char *what, char *why,
                     size_t why_len)
{
	forget_book(k);
	snprintf(why, why_len, "%.250s/%.200s: %s", k->store.dir, name, what);
	return JG_EIO;
}

/*
 * Reads the body: counts it into the book table and hashes it. Then, the
 * body read whole, adds the count to the running table: a book cut short
 * while mapped fails with nothing of it counted.
 */
static int read_body(struct worker *k, const struct jg_frame_header *h, const char *body,
                     size_t len, const char *http_charset, struct counted *ct,
                     uint8_t digest[32], char *why, size_t why_len, const char *name)
{
	sigjmp_buf jump;
	if (sigsetjmp(jump, 1)) {
		cut_short = NULL;
		return book_lost(k, name, "cut short while it was read", why, why_len);
	}
	if (k->map) {
		cut_from = k->map;
		cut_to = k->map + k->map_len;
		cut_short = &jump;
	}
	if (k->abort_on && memmem(body, len, k->abort_on, strlen(k->abort_on)))
		abort();
	int counting = !(h->flags & JG_BOOK_NO_COUNT);
	if (counting && count_book(k, body, len, h->flags, http_charset, ct) < 0) {
		cut_short = NULL;
		snprintf(why, why_len, "out of memory while counting");
		return JG_ENOMEM;
	}
	test_cut(k, 1);
	hash_book(k, body, len, digest);
	cut_short = NULL;
	const char *changed = changed_while_read(k);
	if (changed)
		return book_lost(k, name, changed, why, why_len);
	k->bytes_since += len;
	if (counting && add_book(k, h->flags, h->flags >> JG_BOOK_TOP_SHIFT) < 0) {
		snprintf(why, why_len, "out of memory while counting");
		return JG_ENOMEM;
	}
	return JG_OK;
}

static int open_store(struct worker *k, const char *dir, char *why, size_t why_len)
{
	if (k->store_open && strcmp(k->store.dir, dir) == 0)
		return 0;
	if (k->store_open)
		jg_store_close(&k->store);
	k->store_open = 0;
	if (jg_store_open(&k->store, dir, (uint32_t)getpid() ^ 0x5a17u, why, why_len) < 0)
		return -1;
	k->store_open = 1;
	return 0;
}

/* A book that fits the buffer kept is read into it. */
static const char *read_into_buffer(struct worker *k, int fd, const char *name, size_t size,
                                    char *why, size_t why_len)
{
	if (k->file_cap < size + 1) {
		free(k->file);
		k->file_cap = size + 1;
		if (!(k->file = malloc(k->file_cap)))
			k->file_cap = 0;
	}
	char *buf = k->file;
	if (!buf || (size && read_full(fd, buf, size) < 0)) {
		snprintf(why, why_len, "%.250s/%.200s: %s", k->store.dir, name,
		         buf ? "cut short while it was read" : "out of memory");
		buf = NULL;
	}
	close(fd);
	return buf;
}

/*
 * A saved book read again, by its descriptor: only the regular file the
 * session checked (size, inode), never through a symlink or from a FIFO,
 * however the name was swapped meanwhile.
 *
 * Up to FILE_KEEP_MAX it is read into the buffer kept for it, whose pages
 * are there from the books before: a copy costs less than a mapping (1,000
 * books of 400 KiB: 56 against 77 us a book). A larger one is mapped: its
 * buffer would be fresh pages, faulted in one by one, and the copy on top
 * (the KJV x10, 45.6 MB: 40% of the worker's time).
 */
static const char *open_book(struct worker *k, const char *name, const struct jg_msg_book *m,
                             size_t *len, char *why, size_t why_len)
{
	int fd = jg_store_open_book(&k->store, name, m->expect_size, m->expect_ino, why, why_len);
	if (fd < 0)
		return NULL;
	*len = m->expect_size;
	if (m->expect_size <= FILE_KEEP_MAX)
		return read_into_buffer(k, fd, name, m->expect_size, why, why_len);
	void *p = mmap(NULL, m->expect_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
	if (p == MAP_FAILED) /* a file system that maps nothing: read it */
		return read_into_buffer(k, fd, name, m->expect_size, why, why_len);
	k->map = p;
	k->map_len = m->expect_size;
	k->map_fd = fd; /* kept, to see the size once the book is read */
	test_cut(k, 0);
	return p;
}

static void unmap_book(struct worker *k)
{
	if (k->map)
		munmap((void *)k->map, k->map_len);
	if (k->map_fd >= 0)
		close(k->map_fd);
	k->map = NULL;
	k->map_len = 0;
	k->map_fd = -1;
	/* A huge book read into the buffer (its mapping refused) leaves no
	 * buffer of its size behind for the small books after it. */
	if (k->file_cap > FILE_KEEP_MAX + 1) {
		free(k->file);
		k->file = NULL;
		k->file_cap = 0;
	}
}

/* BOOK and RECOUNT share the start of their payload: dir, then name. */
static int handle_book(struct worker *k, const struct jg_frame_header *h, const uint8_t *payload)
{
	struct jg_msg_book m;
	/* A name is one path segment: a torn frame must not write elsewhere. */
	if (jg_msg_book_decode(payload, h->length, &m) < 0 || m.name_len == 0 ||
	    m.name_len > JG_NAME_MAX + 24 || m.dir_len >= PATH_MAX || m.name[0] == '.' ||
	    memchr(m.name, '/', m.name_len) || memchr(m.name, '\0', m.name_len) ||
	    memchr(m.dir, '\0', m.dir_len))
		return -1;
	char d[PATH_MAX], n[JG_NAME_MAX + 32], why[512] = "", cs[JG_MSG_CHARSET_MAX + 1];
	snprintf(d, sizeof d, "%.*s", (int)m.dir_len, m.dir);
	snprintf(n, sizeof n, "%.*s", (int)m.name_len, m.name);
	snprintf(cs, sizeof cs, "%.*s", (int)m.charset_len, m.charset);
	struct counted ct;
	memset(&ct, 0, sizeof ct);
	const char *body = m.body;
	size_t len = m.body_len;
	int err = JG_OK;
	forget_book(k);
	if (open_store(k, d, why, sizeof why) < 0)
		err = JG_EIO;
	else if (h->type == JG_FRAME_RECOUNT && !(body = open_book(k, n, &m, &len, why, sizeof why)))
		err = JG_EIO;
	else if (h->type == JG_FRAME_BOOK && jg_store_save(&k->store, n, body, len, why, sizeof why) < 0)
		err = JG_EIO;
	uint8_t digest[32] = {0};
	if (err == JG_OK)
		err = read_body(k, h, body, len, cs, &ct, digest, why, sizeof why, n);
	unmap_book(k);
	if (send_result(k, h->id, err, why, digest,
	                (h->flags & JG_BOOK_NO_COUNT) ? NULL : &ct) < 0)
		return -1;
	k->books_since++;
	if (k->books_since >= JG_WORKER_FLUSH_BOOKS || k->bytes_since >= JG_WORKER_FLUSH_BYTES)
		return send_table(k);
	return 0;
}

static int serve(struct worker *k)
{
	uint8_t head[JG_FRAME_HEADER];
	while (read_full(k->in, head, sizeof head) == 0) {
		struct jg_frame_header h;
		if (jg_frame_decode_header(head, sizeof head, &h) != 1)
			return 2;
		if (h.length > k->payload_cap) {
			free(k->payload);
			k->payload_cap = h.length;
			if (!(k->payload = malloc(k->payload_cap)))
				return 2;
		}
		uint8_t *payload = k->payload;
		if (read_full(k->in, payload, h.length) < 0)
			return 2;
		int rc = 0;
		if (h.type == JG_FRAME_BOOK || h.type == JG_FRAME_RECOUNT)
			rc = handle_book(k, &h, payload);
		else if (h.type == JG_FRAME_FLUSH)
			rc = send_table(k);
		else
			rc = -1;
		if (rc < 0)
			return 2;
	}
	return 0;
}

int jg_worker_test_hooks(void)
{
#ifdef JG_TEST_HOOKS
	return 1;
#else
	return 0;
#endif
}

void jg_worker_settle(void)
{
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	signal(SIGINT, SIG_IGN);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* Counting is batch work; the loop (and the program around it) is
	 * not. With every core busy counting, the scheduler would otherwise
	 * preempt the loop in mid-callback for a whole time slice (stalls of
	 * 10-65 ms measured on 2 cores). Failing to lower ourselves is fine. */
	struct sched_param sp = {0};
	sched_setscheduler(0, SCHED_BATCH, &sp);
	setpriority(PRIO_PROCESS, 0, WORKER_NICE);
}

int jg_worker_main(int in_fd, int out_fd)
{
	struct worker k;
	memset(&k, 0, sizeof k);
	k.in = in_fd;
	k.out = out_fd;
	k.abort_on = getenv("JUGGLE_TEST_WORKER_ABORT_ON");
	if (k.abort_on && !*k.abort_on)
		k.abort_on = NULL;
	k.map_fd = -1;
#ifdef JG_TEST_HOOKS
	const char *cut = getenv("JUGGLE_TEST_WORKER_CUT_MAPPED");
	k.cut_bytes = cut ? strtoull(cut, NULL, 10) : 0;
	const char *cut_at = getenv("JUGGLE_TEST_WORKER_CUT_AT");
	k.cut_at_hash = cut_at && strcmp(cut_at, "hash") == 0;
#endif
	struct sigaction bus = {.sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO};
	sigemptyset(&bus.sa_mask);
	sigaction(SIGBUS, &bus, NULL);
	/* Before the first book: OpenSSL reads its configuration at its
	 * first use, and the first book would wait for it. */
	k.sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	k.md = EVP_MD_CTX_new();
	jg_tokenizer_init(&k.tok);
	jg_wc_init(&k.book);
	jg_wc_init(&k.running);
	jg_writer_init(&k.w);
	int rc = serve(&k);
	if (k.store_open)
		jg_store_close(&k.store);
	jg_writer_fini(&k.w);
	free(k.payload);
	free(k.file);
	EVP_MD_CTX_free(k.md);
	EVP_MD_free(k.sha256);
	jg_wc_fini(&k.book);
	jg_wc_fini(&k.running);
	jg_tokenizer_fini(&k.tok);
	return rc;
}
