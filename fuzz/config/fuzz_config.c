/* libFuzzer target for the configuration parser: iotvault.conf is written by
 * operators and by deployment tooling, so config_parse_string() must turn any
 * text into either a configuration or an error, never a crash or a leak. */
#include "iotvault/config.h"
#include "iotvault/secmem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A little over the parser's own limit, so its size check is exercised too. */
#define FUZZ_CONFIG_MAX (CONFIG_MAX_SIZE + 16)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int initialised;
	struct config cfg;
	char err[256];
	char *text;

	if (!initialised) {
		if (secmem_init() != 0)
			abort();
		initialised = 1;
	}
	if (size > FUZZ_CONFIG_MAX)
		size = FUZZ_CONFIG_MAX;
	/* The parser takes a C string: an embedded NUL just ends it early. */
	text = malloc(size + 1);
	if (text == NULL)
		return 0;
	if (size)
		memcpy(text, data, size);
	text[size] = '\0';

	if (config_defaults(&cfg, "/var/lib/iotvault") == 0) {
		if (config_parse_string(&cfg, text, err, sizeof(err)) != 0) {
			/* The error text must be a terminated string within the buffer. */
			if (memchr(err, '\0', sizeof(err)) == NULL)
				abort();
		}
		config_free(&cfg);
	}
	free(text);
	return 0;
}
