/* Logging. Lines go to stderr and, when configured, to a log file. Nothing that
 * is a key, password, token or PSK may ever be passed to these functions:
 * callers log identifiers (DevEUI, device id, key version), never values. */
#ifndef IOTVAULT_LOG_H
#define IOTVAULT_LOG_H

enum log_level { LOG_LEVEL_DEBUG = 0, LOG_LEVEL_INFO, LOG_LEVEL_WARNING, LOG_LEVEL_ERROR };

void log_set_level(enum log_level level);
/* Parses "debug", "info", "warning", "error"; returns -1 when unknown. */
int log_level_parse(const char *text);
/* Also append every line to PATH (created 0600). Returns 0 or a negative code. */
int log_open_file(const char *path);
void log_close(void);
/* When quiet, nothing below WARNING goes to stderr (the file still gets it). */
void log_set_quiet(int quiet);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
/* a peer or the input misbehaved */
#define log_warning(...) log_msg(LOG_LEVEL_WARNING, __VA_ARGS__)
/* we have a bug or the system failed */
#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)

#endif
