/*
 * LD_PRELOAD for the tests: a filesystem without O_TMPFILE, as NFS and
 * vfat are. openat() with O_TMPFILE fails with EOPNOTSUPP, and each
 * refusal appends a line to the file $JG_REFUSED_LOG names (when set), so
 * a test can tell the refusal was asked for; everything else goes to the
 * kernel unchanged.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

static void note_refusal(void)
{
	const char *log = getenv("JG_REFUSED_LOG");
	if (!log)
		return;
	int fd = (int)syscall(SYS_openat, AT_FDCWD, log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
	                      0644);
	if (fd < 0)
		return;
	ssize_t n = write(fd, "O_TMPFILE\n", 10);
	(void)n;
	close(fd);
}

static int open_at(int dirfd, const char *path, int flags, mode_t mode)
{
	if ((flags & O_TMPFILE) == O_TMPFILE) {
		note_refusal();
		errno = EOPNOTSUPP;
		return -1;
	}
	return (int)syscall(SYS_openat, dirfd, path, flags, mode);
}

static mode_t mode_of(int flags, va_list ap)
{
	return (flags & (O_CREAT | __O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

/* Both symbols, whatever _FILE_OFFSET_BITS makes of the name openat. */
int refusing_openat(int dirfd, const char *path, int flags, ...) __asm__("openat");
int refusing_openat64(int dirfd, const char *path, int flags, ...) __asm__("openat64");

int refusing_openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t mode = mode_of(flags, ap);
	va_end(ap);
	return open_at(dirfd, path, flags, mode);
}

int refusing_openat64(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t mode = mode_of(flags, ap);
	va_end(ap);
	return open_at(dirfd, path, flags, mode);
}
