/* POST /api/v1/devices/{id}/downlinks: a plaintext downlink, encrypted by
 * the Application Server with the AppSKey and the next AFCntDown and pushed
 * to the network server (docs/appserver.md). The push runs without the
 * service lock (ROUTE_SELF_LOCKING). */
#include "iotvault/appserver.h"
#include "iotvault/fieldspec.h"
#include "iotvault/hex.h"
#include "iotvault/http.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char downlink_message[APPSERVER_ERR_MAX + 1];

static const struct field_spec downlink_spec[] = {
	{"f_port", FIELD_INT, 1, 1, 223, NULL, NULL},
	{"data", FIELD_STRING, 1, 0, 2 * APPSERVER_DOWNLINK_MAX, NULL, "hex or base64"},
	{"confirmed", FIELD_BOOL, 0, 0, 0, NULL, NULL},
	{NULL, 0, 0, 0, 0, NULL, NULL},
};

/* "data": hex (even number of hex digits) first, else standard base64. */
static int decode_data(const char *text, uint8_t *out, size_t cap, size_t *len)
{
	const char *end = NULL;
	size_t tl = strlen(text);
	if (tl == 0) {
		*len = 0;
		return 0;
	}
	if (sodium_hex2bin(out, cap, text, tl, NULL, len, &end) == 0 && end == text + tl)
		return 0;
	if (sodium_base642bin(out, cap, text, tl, NULL, len, &end,
			      sodium_base64_VARIANT_ORIGINAL) == 0 && end == text + tl)
		return 0;
	return IV_ERR_INVALID;
}

static int post_downlink(struct http_request *req, struct http_reply *rep)
{
	struct appserver_downlink_request dr = {0};
	struct downlink_record d;
	uint8_t data[APPSERVER_DOWNLINK_MAX];
	json_t *body = NULL, *errors = NULL;
	size_t len = 0;
	int r;

	downlink_message[0] = '\0';
	if (http_parse_id(req->params[0], &dr.device_id) != 0) {
		rep->error_message = "device id must be a positive integer";
		return IV_ERR_NOT_FOUND;
	}
	if ((r = http_body_json(req, rep, &body)) != 0)
		return r;
	if ((r = fieldspec_validate(downlink_spec, body, &errors)) != 0) {
		rep->field_errors = errors;
		goto out;
	}
	if (decode_data(fieldspec_string(body, "data"), data, sizeof(data), &len) != 0) {
		rep->error_message = "data: hex or base64 of at most 242 bytes";
		r = IV_ERR_INVALID;
		goto out;
	}
	dr.f_port = (uint8_t)fieldspec_int(body, "f_port", 1);
	dr.data = data;
	dr.len = len;
	dr.confirmed = fieldspec_bool(body, "confirmed", 0) != 0;
	if ((r = appserver_downlink(req->svc, &req->who, &dr, &d, downlink_message,
				    sizeof(downlink_message))) != 0) {
		if (downlink_message[0] != '\0')
			rep->error_message = downlink_message;
		goto out;
	}
	rep->status = 201;
	rep->body = json_pack("{s:I,s:I,s:i,s:I,s:b,s:i,s:s,s:s,s:s}", "id", (json_int_t)d.id,
			      "device_id", (json_int_t)d.device_id, "f_port", d.f_port, "f_cnt",
			      (json_int_t)d.a_fcnt_down, "confirmed", d.confirmed, "length",
			      (int)d.payload_len, "target", d.target, "outcome", d.outcome, "detail",
			      d.detail);
	/* success */
	r = 0;
out:
	secmem_wipe(data, sizeof(data));
	json_decref(body);
	return r;
}

const struct route downlink_routes[] = {
	{"POST", "/api/v1/devices/{id}/downlinks", post_downlink, ROLE_ADMIN | ROLE_OPERATOR,
	 ROUTE_SELF_LOCKING},
	{NULL, NULL, NULL, 0, 0},
};
