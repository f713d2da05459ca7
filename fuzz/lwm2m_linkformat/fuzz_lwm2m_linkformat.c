/* libFuzzer target for the CoRE link-format parser (registration payloads and
 * Discover answers from LwM2M clients). Whatever parses must serialise, parse
 * again to the same links and attributes, and serialise to the same bytes. */
#include "iotvault/lwm2m_content.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same_text(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Escaping can double a quoted value; the rest only shrinks. */
	static uint8_t out[2 * LWM2M_PAYLOAD_MAX + 64], out2[2 * LWM2M_PAYLOAD_MAX + 64];
	struct lwm2m_links *links = lwm2m_links_new(), *again = lwm2m_links_new();
	size_t len = 0, len2 = 0;

	if (links == NULL || again == NULL)
		abort();
	if (lwm2m_linkformat_parse(data, size, links) == 0) {
		if (lwm2m_linkformat_encode(links, out, sizeof(out), &len) != 0)
			abort();
		if (len > LWM2M_PAYLOAD_MAX)
			goto done;
		if (lwm2m_linkformat_parse(out, len, again) != 0 ||
		    lwm2m_links_count(again) != lwm2m_links_count(links))
			abort();
		for (size_t i = 0; i < lwm2m_links_count(links); i++) {
			const struct lwm2m_link *a = lwm2m_links_get(links, i);
			const struct lwm2m_link *b = lwm2m_links_get(again, i);
			if (strcmp(a->uri, b->uri) != 0 || a->has_path != b->has_path ||
			    (a->has_path && !lwm2m_path_equal(&a->path, &b->path)) ||
			    a->attr_count != b->attr_count)
				abort();
			for (size_t j = 0; j < a->attr_count; j++)
				if (strcmp(a->attrs[j].name, b->attrs[j].name) != 0 ||
				    !same_text(a->attrs[j].value, b->attrs[j].value))
					abort();
		}
		if (lwm2m_linkformat_encode(again, out2, sizeof(out2), &len2) != 0 || len2 != len ||
		    memcmp(out, out2, len) != 0)
			abort();
	} else if (lwm2m_links_count(links) != 0) {
		abort(); /* a failed parse must leave the list as it was */
	}
done:
	lwm2m_links_free(links);
	lwm2m_links_free(again);
	return 0;
}
