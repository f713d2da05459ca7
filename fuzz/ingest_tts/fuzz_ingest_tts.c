/* libFuzzer target for The Things Stack webhook adapter
 * (appserver_parse_tts in src/appserver/ingest_parse.c). Input: the JSON
 * body. Successful parses must satisfy fuzz/ingest_common.h. */
#include "../ingest_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *body;
	struct appserver_uplink up;
	char err[APPSERVER_ERR_MAX + 1];

	ingest_fuzz_init();
	body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	if (appserver_parse_tts(body, &up, err, sizeof(err)) == 0)
		ingest_check_uplink(&up);
	else
		ingest_check_error(err);
	json_decref(body);
	return 0;
}
