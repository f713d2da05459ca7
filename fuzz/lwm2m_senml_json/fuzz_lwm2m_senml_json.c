/* libFuzzer target for the LwM2M SenML JSON decoder (LwM2M 1.1 Read and
 * Observe answers, parsed by jansson). The whole input is the payload of a
 * composite answer (request path "/"). The round trip is in
 * ../lwm2m_content_common.h. */
#include "../lwm2m_content_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An unsigned above INT64_MAX (a float coerced by the model) has no
	 * exact JSON form: the encoder refuses it, which is not a bug. */
	lwm2m_fuzz_roundtrip(LWM2M_CF_SENML_JSON, lwm2m_path_root(), data, size, 1);
	return 0;
}
