/* Invariants shared by the ingest fuzz targets: what a successfully parsed
 * uplink must satisfy, and what an error message must look like. Not a
 * target itself: the fuzz CMakeLists builds only fuzz_<name>.c files. */
#ifndef IOTVAULT_FUZZ_INGEST_COMMON_H
#define IOTVAULT_FUZZ_INGEST_COMMON_H

#include "iotvault/appserver.h"
#include "iotvault/secmem.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* libsodium (fieldspec decodes hex into secure memory) */
static inline void ingest_fuzz_init(void)
{
	static int done;
	if (!done) {
		if (secmem_init() != 0)
			abort();
		done = 1;
	}
}

static inline void ingest_check_uplink(const struct appserver_uplink *up)
{
	size_t n = strlen(up->session_key_id);
	if (up->event != APPSERVER_EVENT_IGNORED && strlen(up->dev_eui) != 16)
		abort();
	if (n % 2 != 0 || n > SESSION_KEY_ID_MAX ||
	    strspn(up->session_key_id, "0123456789ABCDEF") != n)
		abort();
	if (up->payload_len > LORAWAN_FRM_PAYLOAD_MAX)
		abort();
	if (up->has_envelope && up->app_s_key.len != 16 && up->app_s_key.len != 24)
		abort();
	if (up->f_cnt_16 && up->f_cnt > 0xFFFF)
		abort();
	if (!up->has_f_port && up->payload_len > 0)
		abort();
	for (const char *p = up->tts_application_id; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
			abort();
	for (const char *p = up->tts_device_id; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
			abort();
}

static inline void ingest_check_error(const char *err)
{
	/* every refusal explains itself */
	if (err[0] == '\0' || strlen(err) > APPSERVER_ERR_MAX)
		abort();
}

#endif
