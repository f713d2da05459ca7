/* File-system helpers for the data directory: private files written
 * atomically and durably, and permission checks on key material. */
#include "core/fsutil.h"
#include "iotvault/log.h"
#include "iotvault/secmem.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fs_check_private(const char *path, int is_dir)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		if (errno == ENOENT)
			return IV_ERR_NOT_FOUND;
		return IV_ERR_IO;
	}
	if (is_dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
		return IV_ERR_INVALID;
	if ((st.st_mode & 077) != 0) {
		log_error("%s %s is accessible to other users (mode %04o); it must be %s",
			  is_dir ? "directory" : "file", path, (unsigned)(st.st_mode & 07777),
			  is_dir ? "0700" : "0600");
		return IV_ERR_PERMISSIONS;
	}
	if (st.st_uid != geteuid()) {
		log_error("%s is owned by another user (uid %u)", path, (unsigned)st.st_uid);
		return IV_ERR_PERMISSIONS;
	}
	return 0;
}

static int fsync_dir_of(const char *path)
{
	char copy[PATH_MAX];
	int fd, r = 0;
	snprintf(copy, sizeof(copy), "%s", path);
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return IV_ERR_IO;
	if (fsync(fd) != 0)
		r = IV_ERR_IO;
	close(fd);
	return r;
}

int fs_write_private(const char *path, const void *data, size_t len, int exclusive)
{
	char tmp[PATH_MAX];
	int fd = -1, r;
	size_t off = 0;

	if (exclusive) {
		/* O_EXCL on the final name: never replace something already there */
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		snprintf(tmp, sizeof(tmp), "%s", path);
	} else {
		if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp))
			return IV_ERR_INVALID;
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	}
	if (fd < 0) {
		log_error("cannot create %s: %s", path, strerror(errno));
		return errno == EEXIST ? IV_ERR_EXISTS : IV_ERR_IO;
	}
	while (off < len) {
		ssize_t n = write(fd, (const uint8_t *)data + off, len - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = IV_ERR_IO;
			goto fail;
		}
		off += (size_t)n;
	}
	if (fsync(fd) != 0) {
		r = IV_ERR_IO;
		goto fail;
	}
	close(fd);
	fd = -1;
	if (!exclusive && rename(tmp, path) != 0) {
		r = IV_ERR_IO;
		goto fail;
	}
	return fsync_dir_of(path);
fail:
	log_error("cannot write %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return r;
}

int fs_read_private(const char *path, uint8_t *out, size_t len)
{
	int fd, r;
	struct stat st;
	ssize_t n;

	if ((r = fs_check_private(path, 0)) != 0)
		return r;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return IV_ERR_IO;
	if (fstat(fd, &st) != 0 || (size_t)st.st_size != len) {
		log_error("%s: expected exactly %zu bytes", path, len);
		close(fd);
		return IV_ERR_MASTER_KEY;
	}
	n = read(fd, out, len);
	close(fd);
	if (n < 0 || (size_t)n != len) {
		secmem_wipe(out, len);
		return IV_ERR_IO;
	}
	return 0;
}

int fs_remove_private(const char *path)
{
	uint8_t zeros[64] = {0};
	struct stat st;
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	/* overwrite before unlinking: a best effort on journaling or flash file
	 * systems, where only the HSM provider truly destroys a key */
	if (fd >= 0) {
		if (fstat(fd, &st) == 0) {
			for (off_t off = 0; off < st.st_size; off += (off_t)sizeof(zeros))
				if (write(fd, zeros, sizeof(zeros)) < 0)
					break;
			if (fsync(fd) != 0) {
				/* unlink still removes the name */
			}
		}
		close(fd);
	}
	if (unlink(path) != 0 && errno != ENOENT)
		return IV_ERR_IO;
	return fsync_dir_of(path);
}
