/* The table of payload codecs, and the string cleaning every stored string
 * from a network server goes through. */
#include "iotvault/codec.h"

#include <string.h>

static const struct codec codecs[] = {
	{"raw", codec_raw_decode},
	{"cayennelpp", codec_cayennelpp_decode},
};

const char *const codec_names[] = {"raw", "cayennelpp", NULL};

const struct codec *codec_find(const char *name)
{
	if (name == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++)
		if (strcmp(codecs[i].name, name) == 0)
			return &codecs[i];
	return NULL;
}

/* Length of the valid UTF-8 sequence at S (0 when invalid). */
static size_t utf8_len(const unsigned char *s)
{
	size_t n;
	unsigned int cp;
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		n = 2, cp = s[0] & 0x1F;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		n = 3, cp = s[0] & 0x0F;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	/* overlong forms, surrogates and beyond U+10FFFF */
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
	    (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	/* C1 controls U+0080..U+009F */
	if (cp >= 0x80 && cp <= 0x9F)
		return (size_t)-1;
	return n;
}

void codec_clean_string(const char *text, char *out, size_t cap)
{
	const unsigned char *s = (const unsigned char *)(text ? text : "");
	size_t o = 0;
	if (cap == 0)
		return;
	while (*s) {
		size_t n = utf8_len(s);
		if (n == 0 || n == (size_t)-1) {
			/* drop the byte (invalid) or the whole C1 character */
			s += n == 0 ? 1 : 2;
			continue;
		}
		if (n == 1 && (*s < 0x20 || *s == 0x7F)) {
			s++;
			continue;
		}
		if (o + n >= cap)
			break;
		memcpy(out + o, s, n);
		o += n;
		s += n;
	}
	out[o] = '\0';
}
