/* libFuzzer target for the LwM2M TLV decoder (what a client answers to a
 * Read). Input: one byte choosing the request path's depth (1..4), one byte
 * the resource id, then the TLV payload. The round trip and the typing of
 * resources are in ../lwm2m_content_common.h. */
#include "../lwm2m_content_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lwm2m_path base = lwm2m_path_resource_instance(9, 0, 0, 0);

	if (size < 2)
		return 0;
	base.id[2] = data[1];
	base.depth = (uint8_t)(1 + (data[0] & 3));
	for (unsigned i = base.depth; i < LWM2M_PATH_DEPTH_MAX; i++)
		base.id[i] = 0;
	lwm2m_fuzz_roundtrip(LWM2M_CF_TLV, base, data + 2, size - 2, 0);
	return 0;
}
