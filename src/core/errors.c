/* Lookups into the error registry of include/iotvault/errors.h. */
#include "iotvault/errors.h"

#include <stddef.h>

struct iv_error_info {
	int code;
	const char *name;
	int http;
	int coap;
	const char *ts002;
	int exit_status;
	const char *message;
};

static const struct iv_error_info error_infos[] = {
#define IV_ERR_INFO(sym, val, name, http, coap, ts002, exitc, msg) \
	{(val), (name), (http), (coap), (ts002), (exitc), (msg)},
	IV_ERROR_TABLE(IV_ERR_INFO)
#undef IV_ERR_INFO
};

static const struct iv_error_info *find(int code)
{
	for (size_t i = 0; i < sizeof(error_infos) / sizeof(error_infos[0]); i++)
		if (error_infos[i].code == code)
			return &error_infos[i];
	return &error_infos[1]; /* IV_ERR_INTERNAL */
}

const char *iv_error_name(int code) { return find(code)->name; }
const char *iv_error_message(int code) { return find(code)->message; }
int iv_error_http_status(int code) { return find(code)->http; }
int iv_error_coap_code(int code) { return find(code)->coap; }
const char *iv_error_ts002_result(int code) { return find(code)->ts002; }
int iv_error_exit_status(int code) { return find(code)->exit_status; }
