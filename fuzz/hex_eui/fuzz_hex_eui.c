/* libFuzzer target for the hex decoders that read keys and EUIs from API
 * requests, import files and the command line: hex_decode_exact() at several
 * lengths, and eui_parse() with a format/parse round trip. */
#include "iotvault/hex.h"
#include "iotvault/secmem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Longer than any key or EUI text the decoders accept (4 * 32 + 8 + "0x"). */
#define FUZZ_HEX_MAX 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t out_lens[] = {1, 4, EUI_LEN, AES128_KEY_LEN, 32};
	static int initialised;
	char text[FUZZ_HEX_MAX + 1];
	uint8_t out[32];
	char hex[2 * sizeof(out) + 1];
	uint8_t eui[EUI_LEN], again[EUI_LEN];
	char formatted[EUI_HEX_LEN + 1];

	if (!initialised) {
		if (secmem_init() != 0)
			abort();
		initialised = 1;
	}
	if (size > FUZZ_HEX_MAX)
		size = FUZZ_HEX_MAX;
	if (size)
		memcpy(text, data, size);
	text[size] = '\0';

	for (size_t i = 0; i < sizeof(out_lens) / sizeof(out_lens[0]); i++) {
		size_t len = out_lens[i];
		/* Decode into a heap buffer of exactly the asked size so that ASan
		 * sees any write past it. */
		uint8_t *exact = malloc(len);
		if (exact == NULL)
			return 0;
		if (hex_decode_exact(text, exact, len) == 0) {
			/* What we print must read back as the same bytes. */
			hex_encode_upper(exact, len, hex);
			if (strlen(hex) != 2 * len || hex_decode_exact(hex, out, len) != 0 ||
			    memcmp(out, exact, len) != 0)
				abort();
		}
		free(exact);
	}

	if (eui_parse(text, eui) == 0) {
		eui_format(eui, formatted);
		if (strlen(formatted) != EUI_HEX_LEN)
			abort();
		for (size_t i = 0; i < EUI_HEX_LEN; i++) {
			char c = formatted[i];
			if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F')))
				abort();
		}
		if (eui_parse(formatted, again) != 0 || memcmp(eui, again, EUI_LEN) != 0)
			abort();
	}
	return 0;
}
