/* The password policy (NIST SP 800-63B / OWASP ASVS 2.1): length 15..128
 * characters, no composition rules, refused when in the common-password list
 * or equal to the user name. Also the dummy Argon2id hash that logins of
 * unknown accounts verify against, so they take as long as real ones. */
#include "auth/auth_internal.h"
#include "iotvault/auth.h"
#include "iotvault/crypto.h"
#include "iotvault/log.h"
#include "iotvault/secmem.h"

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define COMMON_LIST_MAX_BYTES (16L * 1024 * 1024)

struct password_policy {
	char *text;      /* the file, lines NUL-terminated in place */
	char **entries;  /* sorted, lower case */
	size_t count;
	char dummy_hash[PWHASH_STR_LEN];
};

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void password_policy_free(struct password_policy *pp)
{
	if (pp == NULL)
		return;
	free(pp->entries);
	free(pp->text);
	free(pp);
}

static int read_file(const char *path, char **out, size_t *len)
{
	FILE *f = fopen(path, "re");
	struct stat sb;
	char *buf = NULL;
	int r;

	if (f == NULL)
		return IV_ERR_NOT_FOUND;
	if (fstat(fileno(f), &sb) != 0 || sb.st_size > COMMON_LIST_MAX_BYTES) {
		r = IV_ERR_TOO_LARGE;
		goto out;
	}
	if ((buf = malloc((size_t)sb.st_size + 1)) == NULL) { /* lint:not-secret */
		r = IV_ERR_NOMEM;
		goto out;
	}
	if (fread(buf, 1, (size_t)sb.st_size, f) != (size_t)sb.st_size) {
		r = IV_ERR_IO;
		goto out;
	}
	buf[sb.st_size] = '\0';
	*len = (size_t)sb.st_size;
	*out = buf;
	buf = NULL;
	/* success */
	r = 0;
out:
	free(buf);
	fclose(f);
	return r;
}

int password_policy_load(const char *path, size_t min_entries, struct password_policy **out)
{
	struct password_policy *pp = calloc(1, sizeof(*pp)); /* lint:not-secret */
	size_t len = 0, lines = 0, n = 0;
	char *p, *line, *save = NULL;
	int r;

	if (pp == NULL)
		return IV_ERR_NOMEM;
	if ((r = read_file(path, &pp->text, &len)) != 0) {
		log_error("auth: cannot read the common-password list %s: %s", path,
			  iv_error_message(r));
		goto out;
	}
	for (p = pp->text; *p; p++) {
		*p = (char)tolower((unsigned char)*p);
		lines += *p == '\n';
	}
	if ((pp->entries = calloc(lines + 1, sizeof(char *))) == NULL) { /* lint:not-secret */
		r = IV_ERR_NOMEM;
		goto out;
	}
	for (line = strtok_r(pp->text, "\r\n", &save); line != NULL && n <= lines;
	     line = strtok_r(NULL, "\r\n", &save))
		pp->entries[n++] = line;
	qsort(pp->entries, n, sizeof(char *), entry_cmp);
	/* unique, so the count means what it says */
	pp->count = 0;
	for (size_t i = 0; i < n; i++)
		if (pp->count == 0 || strcmp(pp->entries[pp->count - 1], pp->entries[i]) != 0)
			pp->entries[pp->count++] = pp->entries[i];
	if (pp->count < min_entries) {
		log_error("auth: the common-password list %s has %zu entries, fewer than %zu", path,
			  pp->count, min_entries);
		r = IV_ERR_CONFIG;
		goto out;
	}
	{
		/* a hash of a random password nobody knows, with today's parameters */
		char pw[GENERATED_PASSWORD_LEN + 1];
		password_generate(pw, GENERATED_PASSWORD_LEN);
		r = pwhash_hash(pw, GENERATED_PASSWORD_LEN, pp->dummy_hash);
		secmem_wipe(pw, sizeof(pw));
		if (r != 0)
			goto out;
	}
	*out = pp;
	pp = NULL;
	/* success */
	r = 0;
out:
	password_policy_free(pp);
	return r;
}

size_t password_policy_size(const struct password_policy *pp) { return pp ? pp->count : 0; }

const char *password_policy_dummy_hash(const struct password_policy *pp)
{
	return pp->dummy_hash;
}

/* Code points of valid UTF-8 (the JSON layer has already refused invalid text). */
static size_t utf8_chars(const char *s, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += ((unsigned char)s[i] & 0xC0) != 0x80;
	return n;
}

static int in_common_list(const struct password_policy *pp, const char *password, size_t len)
{
	char lower[PASSWORD_MAX_LEN * 4 + 1];
	size_t lo = 0, hi = pp->count;
	int found = 0;

	if (len >= sizeof(lower))
		return 0;
	for (size_t i = 0; i < len; i++)
		lower[i] = (char)tolower((unsigned char)password[i]);
	lower[len] = '\0';
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(lower, pp->entries[mid]);
		if (c == 0) {
			found = 1;
			break;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	secmem_wipe(lower, sizeof(lower));
	return found;
}

int password_policy_check(const struct password_policy *pp, const char *password, size_t len,
			  const char *username, const char **reason)
{
	size_t chars = utf8_chars(password, len);
	const char *why = NULL;

	if (memchr(password, '\0', len) != NULL)
		why = "the password must not contain NUL characters";
	else if (chars < PASSWORD_MIN_LEN)
		why = "the password must be at least 15 characters long";
	else if (chars > PASSWORD_MAX_LEN)
		why = "the password must be at most 128 characters long";
	else if (username != NULL && strlen(username) == len && strncasecmp(password, username, len) == 0)
		why = "the password must not be the user name";
	else if (pp == NULL || in_common_list(pp, password, len))
		why = "the password is in the list of commonly used passwords";
	if (reason != NULL)
		*reason = why;
	return why == NULL ? 0 : IV_ERR_WEAK_PASSWORD;
}

void password_suggest(char out[static GENERATED_PASSWORD_LEN + 1])
{
	password_generate(out, GENERATED_PASSWORD_LEN);
}

int password_needs_rehash(const char *hash)
{
	/* -1 (not an Argon2id string we understand) also means: replace it */
	return crypto_pwhash_str_needs_rehash(hash, PWHASH_OPSLIMIT, PWHASH_MEMLIMIT) != 0;
}
