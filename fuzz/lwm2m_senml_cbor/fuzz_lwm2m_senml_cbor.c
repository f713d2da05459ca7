/* libFuzzer target for the LwM2M SenML CBOR decoder (libcbor's streaming
 * decoder under the SenML shape checks). The whole input is the payload of a
 * composite answer (request path "/"). The round trip is in
 * ../lwm2m_content_common.h. */
#include "../lwm2m_content_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	lwm2m_fuzz_roundtrip(LWM2M_CF_SENML_CBOR, lwm2m_path_root(), data, size, 0);
	return 0;
}
