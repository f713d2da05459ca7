/* `iotvault keygen`: keys and PSK identities from the CSPRNG, printed to
 * standard output (their only destination: nothing is stored or logged). */
#include "cmd/cli.h"
#include "iotvault/hex.h"
#include "iotvault/hygiene.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static const char usage[] =
	"iotvault keygen [--type app-key|nwk-key|psk|psk-identity] [--count N] [--length BYTES]\n"
	"         [--prefix P]\n"
	"\n"
	"Prints N (default 1, at most 10000) generated values, one a line: AppKeys and\n"
	"NwkKeys are 16 bytes; PSKs 16 bytes unless --length (16..64); PSK identities\n"
	"are \"<prefix>-\" and 80 random bits in base32. Every key passes the weak-key\n"
	"rules. Nothing is stored or logged: keep the output safe.";

enum { OPT_TYPE = 1, OPT_COUNT, OPT_LENGTH, OPT_PREFIX, OPT_HELP };

static const struct option options[] = {
	{"type", required_argument, NULL, OPT_TYPE},
	{"count", required_argument, NULL, OPT_COUNT},
	{"length", required_argument, NULL, OPT_LENGTH},
	{"prefix", required_argument, NULL, OPT_PREFIX},
	{"help", no_argument, NULL, OPT_HELP},
	{NULL, 0, NULL, 0},
};

#define KEYGEN_COUNT_MAX 10000

int cmd_keygen(int argc, char **argv)
{
	const char *type = "app-key", *prefix = NULL;
	long count = 1, length = 0;
	char line[2 * HYGIENE_KEY_MAX_LEN + HYGIENE_PSK_IDENTITY_PREFIX_MAX + 32];
	struct secbuf *key = NULL;
	int c, r, status, identity;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case OPT_TYPE: type = optarg; break;
		case OPT_COUNT:
			if (cli_parse_int(optarg, 1, KEYGEN_COUNT_MAX, &count))
				return cli_usage(usage);
			break;
		case OPT_LENGTH:
			if (cli_parse_int(optarg, HYGIENE_KEY_MIN_LEN, HYGIENE_KEY_MAX_LEN, &length))
				return cli_error(IV_ERR_USAGE, "--length: %d to %d bytes",
						 HYGIENE_KEY_MIN_LEN, HYGIENE_KEY_MAX_LEN);
			break;
		case OPT_PREFIX: prefix = optarg; break;
		case OPT_HELP: printf("usage: %s\n", usage); return 0;
		default: return cli_usage(usage);
		}
	}
	if (optind != argc)
		return cli_usage(usage);
	identity = strcmp(type, "psk-identity") == 0;
	if (!identity && strcmp(type, "app-key") != 0 && strcmp(type, "nwk-key") != 0 &&
	    strcmp(type, "psk") != 0)
		return cli_error(IV_ERR_USAGE, "--type: app-key, nwk-key, psk or psk-identity");
	if (strcmp(type, "psk") != 0 && length != 0 && !(length == 16 && !identity))
		return cli_error(IV_ERR_USAGE, "--length: only for --type psk (AppKeys and NwkKeys "
					       "are 16 bytes)");
	if (!identity && prefix != NULL)
		return cli_error(IV_ERR_USAGE, "--prefix: only for --type psk-identity");
	if (length == 0)
		length = HYGIENE_KEY_MIN_LEN;
	if (!identity && (key = secbuf_new((size_t)length)) == NULL)
		return cli_error(IV_ERR_NOMEM, "out of memory");
	/* unbuffered: no copy of a key stays behind in a stdio buffer */
	setvbuf(stdout, NULL, _IONBF, 0);
	for (long i = 0; i < count; i++) {
		if (identity)
			r = hygiene_generate_psk_identity(line, sizeof(line) - 1, prefix);
		else if ((r = hygiene_generate_key(key->data, key->len)) == 0)
			hex_encode_upper(key->data, key->len, line);
		if (r != 0) {
			status = r == IV_ERR_INVALID
					 ? cli_error(r, "--prefix: up to %d of A-Z a-z 0-9 . _ : -",
						     HYGIENE_PSK_IDENTITY_PREFIX_MAX)
					 : cli_error(r, "key generation failed: %s",
						     iv_error_message(r));
			goto out;
		}
		strncat(line, "\n", sizeof(line) - strlen(line) - 1);
		if (fputs(line, stdout) == EOF) {
			status = cli_error(IV_ERR_IO, "cannot write to standard output");
			goto out;
		}
	}
	/* success */
	status = 0;
out:
	secmem_wipe(line, sizeof(line));
	secbuf_free(key);
	return status;
}
