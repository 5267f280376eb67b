#include "progress.h"
#include "say.h"

#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

void progress_init(struct progress *p, int quiet)
{
	p->shown = !quiet && isatty(STDERR_FILENO);
}

void progress_human_bytes(double b, char *out, size_t len)
{
	const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	int i = 0;
	while (b >= 1024 && i < 4) {
		b /= 1024;
		i++;
	}
	snprintf(out, len, i ? "%.1f %s" : "%.0f %s", b, unit[i]);
}

void progress_draw(const struct progress *p, const struct progress_figures *f)
{
	if (!p->shown)
		return;
	double rate = f->elapsed > 0 ? f->bytes / f->elapsed : 0;
	char bytes[32], speed[32], eta[32] = "--:--";
	progress_human_bytes((double)f->bytes, bytes, sizeof bytes);
	progress_human_bytes(rate, speed, sizeof speed);
	if (f->done > 0 && f->done < f->total) {
		double left = f->elapsed / (double)f->done * (double)(f->total - f->done);
		snprintf(eta, sizeof eta, "%d:%02d", (int)(left / 60), (int)left % 60);
	}
	fputs("\r\033[K", stderr); /* the one escape juggle writes itself */
	jg_say(stderr, "[%" PRIu64 "/%" PRIu64 "] %s  %s/s  ETA %s  %" PRIu64
	       " active%s%" PRIu64 " failed",
	       f->done, f->total, bytes, speed, eta, f->active, ", ", f->failed);
	fflush(stderr);
}

void progress_clear(const struct progress *p)
{
	if (p->shown)
		fputs("\r\033[K", stderr);
}

void progress_end(struct progress *p)
{
	progress_clear(p);
	p->shown = 0;
}
