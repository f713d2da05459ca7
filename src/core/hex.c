/* Constant-time hex helpers for keys and EUIs, on top of libsodium. */
#include "iotvault/hex.h"

#include <ctype.h>
#include <sodium.h>
#include <string.h>

int hex_decode_exact(const char *text, uint8_t *out, size_t out_len)
{
	size_t bin_len = 0;
	const char *end = NULL;
	size_t text_len;

	if (text == NULL)
		return IV_ERR_INVALID;
	if (text[0] == '0' && (text[1] == 'x' || text[1] == 'X'))
		text += 2;
	text_len = strlen(text);
	if (text_len == 0 || text_len > 4 * out_len + 8)
		return IV_ERR_INVALID;
	/* separators may only stand between two complete bytes */
	if (text[0] == ':' || text[0] == '-' || text[text_len - 1] == ':' || text[text_len - 1] == '-')
		return IV_ERR_INVALID;
	if (sodium_hex2bin(out, out_len, text, text_len, ":-", &bin_len, &end) != 0 ||
	    bin_len != out_len || end == NULL || *end != '\0') {
		sodium_memzero(out, out_len);
		return IV_ERR_INVALID;
	}
	return 0;
}

void hex_encode_upper(const uint8_t *in, size_t len, char *out)
{
	sodium_bin2hex(out, 2 * len + 1, in, len);
	/* constant-time upper-casing: no branch on the digit value */
	for (size_t i = 0; i < 2 * len; i++) {
		unsigned char c = (unsigned char)out[i];
		unsigned is_lower = (unsigned)((('a' - 1 - (int)c) & ((int)c - ('z' + 1))) >> 8) & 1u;
		out[i] = (char)(c - (unsigned char)(is_lower << 5));
	}
}

int eui_parse(const char *text, uint8_t out[static EUI_LEN])
{
	return hex_decode_exact(text, out, EUI_LEN);
}

void eui_format(const uint8_t eui[static EUI_LEN], char out[static EUI_HEX_LEN + 1])
{
	hex_encode_upper(eui, EUI_LEN, out);
}
