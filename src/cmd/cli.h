/* Shared pieces of the command-line subcommands: opening a data directory,
 * error reporting with the documented exit statuses, key sources. */
#ifndef IOTVAULT_CMD_CLI_H
#define IOTVAULT_CMD_CLI_H

#include <stddef.h>

#include "iotvault/config.h"
#include "iotvault/secmem.h"
#include "iotvault/store.h"
#include "iotvault/vault.h"

struct app {
	struct config cfg;
	struct store *st;
	struct vault *v;
	struct audit_actor actor;
	char actor_name[96];
};

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

int cmd_init(int argc, char **argv);
int cmd_device(int argc, char **argv);
int cmd_master(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_tenant(int argc, char **argv);
int cmd_peer(int argc, char **argv);
int cmd_keygen(int argc, char **argv);
int cmd_hygiene(int argc, char **argv);
int cmd_lwm2m_pki(int argc, char **argv);

/* --data, else $IOTVAULT_DATA, else NULL. */
const char *cli_data_dir(const char *opt);
/* Opens config, log, store and vault of DATA_DIR. Prints the error and
 * returns the exit status on failure, 0 on success. */
int app_open(struct app *app, const char *data_dir);
void app_close(struct app *app);
/* Sets the audit actor for a local command: "cli", the Unix user, "local". */
void cli_actor(struct audit_actor *actor, char *buf, size_t len);
/* Prints "iotvault: MESSAGE" to stderr; returns the exit status for CODE. */
int cli_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cli_usage(const char *usage);
int cli_tenant(struct app *app, const char *name, struct tenant *out);
/* Reads a key from a key source (docs/cli.md): "generate", "env:NAME",
 * "file:PATH", "-". GEN_LEN is the size generated; EXPECT_LEN (0: any
 * length from 1 to SECRET_MAX_LEN) the size required from the other sources. */
int key_source_read(const char *spec, size_t gen_len, size_t expect_len, struct secbuf **out,
		    char *err, size_t err_len);
/* Parses a positive integer option. */
int cli_parse_int(const char *text, long min, long max, long *out);

#endif
