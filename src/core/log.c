/* Minimal leveled logger: timestamped lines to stderr and an optional file. */
#include "iotvault/log.h"
#include "iotvault/errors.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum log_level current_level = LOG_LEVEL_INFO;
static int log_fd = -1;
static int quiet_stderr;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void log_set_level(enum log_level level) { current_level = level; }
void log_set_quiet(int quiet) { quiet_stderr = quiet; }

int log_level_parse(const char *text)
{
	static const char *const names[] = {"debug", "info", "warning", "error"};
	for (int i = 0; i < 4; i++)
		if (strcmp(text, names[i]) == 0)
			return i;
	return -1;
}

int log_open_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return IV_ERR_IO;
	pthread_mutex_lock(&log_lock);
	if (log_fd >= 0)
		close(log_fd);
	log_fd = fd;
	pthread_mutex_unlock(&log_lock);
	return 0;
}

void log_close(void)
{
	pthread_mutex_lock(&log_lock);
	if (log_fd >= 0)
		close(log_fd);
	log_fd = -1;
	pthread_mutex_unlock(&log_lock);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const tags[] = {"debug", "info", "warning", "error"};
	char line[1024];
	char stamp[32];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n, m;

	if (level < current_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line, sizeof(line), "%s.%03ldZ [%d] %s: ", stamp, ts.tv_nsec / 1000000L,
		     (int)getpid(), tags[level]);
	if (n < 0)
		return;
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	n += m;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	pthread_mutex_lock(&log_lock);
	if (!quiet_stderr || level >= LOG_LEVEL_WARNING) {
		if (write(STDERR_FILENO, line, (size_t)n) < 0) {
			/* nowhere left to report it */
		}
	}
	if (log_fd >= 0 && write(log_fd, line, (size_t)n) < 0) {
		/* same */
	}
	pthread_mutex_unlock(&log_lock);
}
