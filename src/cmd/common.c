/* Data-directory opening, errors and key sources for the subcommands. */
#include "cmd/cli.h"
#include "core/fsutil.h"
#include "iotvault/crypto.h"
#include "iotvault/hex.h"
#include "iotvault/log.h"
#include "iotvault/mkprov.h"

#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *cli_data_dir(const char *opt)
{
	if (opt != NULL)
		return opt;
	return getenv("IOTVAULT_DATA");
}

int cli_error(int code, const char *fmt, ...)
{
	va_list ap;
	fputs("iotvault: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return iv_error_exit_status(code);
}

int cli_usage(const char *usage)
{
	fprintf(stderr, "usage: %s\n", usage);
	return iv_error_exit_status(IV_ERR_USAGE);
}

void cli_actor(struct audit_actor *actor, char *buf, size_t len)
{
	struct passwd *pw = getpwuid(geteuid());
	snprintf(buf, len, "%s", pw ? pw->pw_name : "unknown");
	actor->type = "cli";
	actor->name = buf;
	actor->source = "local";
}

int cli_parse_int(const char *text, long min, long max, long *out)
{
	char *end;
	long v;
	errno = 0;
	v = strtol(text, &end, 10);
	if (errno || end == text || *end != '\0' || v < min || v > max)
		return IV_ERR_INVALID;
	*out = v;
	return 0;
}

int app_open(struct app *app, const char *data_dir)
{
	char err[300];
	char *path = NULL;
	struct mk_provider *prov = NULL;
	int r;

	memset(app, 0, sizeof(*app));
	cli_actor(&app->actor, app->actor_name, sizeof(app->actor_name));
	if (data_dir == NULL)
		return cli_error(IV_ERR_USAGE, "--data DIR is required (or set IOTVAULT_DATA)");
	r = fs_check_private(data_dir, 1);
	if (r == IV_ERR_NOT_FOUND)
		return cli_error(r, "data directory %s does not exist (create it with iotvault init)",
				 data_dir);
	if (r != 0)
		return cli_error(r, "%s: %s", data_dir, iv_error_message(r));
	if ((r = config_load(&app->cfg, data_dir, err, sizeof(err))) != 0)
		return cli_error(r == IV_ERR_NOT_FOUND ? IV_ERR_CONFIG : r, "configuration: %s", err);
	log_set_level((enum log_level)app->cfg.log_level);
	if ((path = config_path(&app->cfg, app->cfg.log_file)) == NULL ||
	    (r = log_open_file(path)) != 0) {
		free(path);
		r = cli_error(IV_ERR_IO, "cannot open the log file");
		goto fail;
	}
	free(path);
	if ((path = config_path(&app->cfg, app->cfg.db_path)) == NULL) {
		r = cli_error(IV_ERR_NOMEM, "out of memory");
		goto fail;
	}
	r = store_sqlite_open(path, 0, app->cfg.busy_timeout_ms, &app->st);
	free(path);
	if (r != 0) {
		r = cli_error(r, "cannot open the database: %s", iv_error_message(r));
		goto fail;
	}
	if ((r = mk_provider_new(&app->cfg, 1, &prov)) != 0) {
		r = cli_error(r, "master key provider '%s': %s", mk_provider_name(app->cfg.mk_provider),
			      iv_error_message(r));
		goto fail;
	}
	if ((r = vault_open(&app->cfg, app->st, prov, &app->v)) != 0) {
		r = cli_error(r, "cannot open the vault: %s", iv_error_message(r));
		goto fail;
	}
	return 0;
fail:
	app_close(app);
	return r;
}

void app_close(struct app *app)
{
	vault_free(app->v);
	app->v = NULL;
	store_close(app->st);
	app->st = NULL;
	config_free(&app->cfg);
	log_close();
}

int cli_tenant(struct app *app, const char *name, struct tenant *out)
{
	int r;
	if (name == NULL)
		return cli_error(IV_ERR_USAGE, "--tenant NAME is required");
	r = app->st->ops->tenant_get_by_name(app->st, name, out);
	if (r == IV_ERR_NOT_FOUND)
		return cli_error(r, "tenant '%s' not found", name);
	if (r != 0)
		return cli_error(r, "tenant lookup: %s", iv_error_message(r));
	return 0;
}

/* Reads the first line of FD's stream into BUF (hex text, so at most 2*max+
 * separators); the line is wiped by the caller. */
static int read_line(FILE *f, char *buf, size_t cap)
{
	size_t n;
	if (fgets(buf, (int)cap, f) == NULL)
		return IV_ERR_INVALID;
	n = strlen(buf);
	if (n == cap - 1 && buf[n - 1] != '\n')
		return IV_ERR_TOO_LARGE;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	return 0;
}

int key_source_read(const char *spec, size_t gen_len, size_t expect_len, struct secbuf **out,
		    char *err, size_t err_len)
{
	struct secbuf *text = NULL, *key = NULL;
	size_t max_len = expect_len ? expect_len : SECRET_MAX_LEN / 2;
	const char *src;
	FILE *f = NULL;
	size_t hex_len;
	int r;

	*out = NULL;
	if (spec == NULL || strcmp(spec, "generate") == 0) {
		if ((key = secbuf_new(gen_len)) == NULL)
			return IV_ERR_NOMEM;
		random_bytes(key->data, key->len);
		*out = key;
		return 0;
	}
	/* room for hex, separators and a newline */
	if ((text = secbuf_new(max_len * 3 + 8)) == NULL)
		return IV_ERR_NOMEM;
	if (strncmp(spec, "env:", 4) == 0) {
		src = getenv(spec + 4);
		if (src == NULL) {
			snprintf(err, err_len, "environment variable %s is not set", spec + 4);
			r = IV_ERR_INVALID;
			goto out;
		}
		if (strlen(src) >= text->len) {
			snprintf(err, err_len, "environment variable %s: too long", spec + 4);
			r = IV_ERR_INVALID;
			goto out;
		}
		memcpy(text->data, src, strlen(src));
	} else if (strncmp(spec, "file:", 5) == 0 || strcmp(spec, "-") == 0) {
		f = spec[0] == '-' ? stdin : fopen(spec + 5, "re");
		if (f == NULL) {
			snprintf(err, err_len, "cannot open %s: %s", spec + 5, strerror(errno));
			r = IV_ERR_INVALID;
			goto out;
		}
		/* unbuffered: no copy of the key left in a stdio buffer */
		setvbuf(f, NULL, _IONBF, 0);
		if ((r = read_line(f, (char *)text->data, text->len)) != 0) {
			snprintf(err, err_len, "%s: no key line, or line too long",
				 spec[0] == '-' ? "standard input" : spec + 5);
			r = IV_ERR_INVALID;
			goto out;
		}
	} else {
		snprintf(err, err_len, "keys are never given on the command line (other users can "
				       "read it); use generate, env:NAME, file:PATH or -");
		r = IV_ERR_INVALID;
		goto out;
	}
	/* a hex string decodes to at most half its length */
	hex_len = strlen((const char *)text->data);
	if (expect_len == 0) {
		const char *t = (const char *)text->data;
		size_t digits = 0;
		for (size_t i = (t[0] == '0' && (t[1] == 'x' || t[1] == 'X')) ? 2 : 0; i < hex_len; i++)
			digits += t[i] != ':' && t[i] != '-';
		expect_len = digits / 2;
		if (expect_len == 0 || expect_len > max_len) {
			snprintf(err, err_len, "key: expected hex of at most %zu bytes", max_len);
			r = IV_ERR_INVALID;
			goto out;
		}
	}
	if ((key = secbuf_new(expect_len)) == NULL) {
		r = IV_ERR_NOMEM;
		goto out;
	}
	if (hex_decode_exact((const char *)text->data, key->data, key->len) != 0) {
		snprintf(err, err_len, "key: expected %zu bytes as hex (%zu hex digits)", expect_len,
			 2 * expect_len);
		r = IV_ERR_INVALID;
		goto out;
	}
	*out = key;
	key = NULL;
	/* success */
	r = 0;
out:
	if (f != NULL && f != stdin)
		fclose(f);
	secbuf_free(text);
	secbuf_free(key);
	return r;
}
