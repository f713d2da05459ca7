/* libFuzzer target for the ChirpStack v4 ingest adapter
 * (appserver_parse_chirpstack in src/appserver/ingest_parse.c). Input: the
 * ?event= value, a newline, then the JSON body. A parse that succeeds must
 * yield a consistent uplink (see fuzz/ingest_common.h); anything else aborts. */
#include "../ingest_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char event[32];
	const uint8_t *nl = memchr(data, '\n', size);
	size_t n = nl ? (size_t)(nl - data) : 0;
	json_t *body;
	struct appserver_uplink up;
	char err[APPSERVER_ERR_MAX + 1];

	ingest_fuzz_init();
	if (nl == NULL || n >= sizeof(event))
		return 0;
	memcpy(event, data, n);
	event[n] = '\0';
	body = json_loadb((const char *)nl + 1, size - n - 1, JSON_REJECT_DUPLICATES, NULL);
	if (appserver_parse_chirpstack(event, body, &up, err, sizeof(err)) == 0)
		ingest_check_uplink(&up);
	else
		ingest_check_error(err);
	json_decref(body);
	return 0;
}
