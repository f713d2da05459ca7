/* The ingest adapters: ChirpStack v4 HTTP integration events, The Things
 * Stack webhook messages and iotvault's native JSON, each validated into one
 * struct appserver_uplink. Network-server messages carry many fields we do
 * not use, so those two are read leniently (unknown fields ignored, proto3
 * JSON omits zero values) but every field we use is type- and range-checked;
 * the native shape is strict (fieldspec: unknown fields refused).
 *
 * Field names: ChirpStack api/proto/integration/integration.proto
 * (UplinkEvent: deviceInfo.devEui, devAddr, fCnt, fPort, data, and
 * joinServerContext {sessionKeyId, appSKey {kekLabel, aesKey}} from
 * common.proto); The Things Stack ApplicationUp (end_device_ids.dev_eui,
 * uplink_message {f_port, f_cnt, frm_payload, session_key_id, app_s_key
 * {kek_label, encrypted_key}}, join_accept {session_key_id, app_s_key}).
 * Bytes are base64 in both (protobuf JSON); the TTS SessionKeyID is bytes,
 * ChirpStack's is the TS002 hex string. */
#include "iotvault/appserver.h"
#include "iotvault/codec.h"
#include "iotvault/fieldspec.h"
#include "iotvault/hex.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define FAIL(...)                                      \
	do {                                           \
		snprintf(err, err_len, __VA_ARGS__);   \
		return IV_ERR_INVALID;                 \
	} while (0)

/* OBJ.a.b... : the member at a dotted PATH, or NULL. */
static json_t *at(json_t *obj, const char *path)
{
	char name[64];
	const char *p = path;
	while (obj != NULL && *p) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		if (n >= sizeof(name) || !json_is_object(obj))
			return NULL;
		memcpy(name, p, n);
		name[n] = '\0';
		obj = json_object_get(obj, name);
		p += n + (dot ? 1 : 0);
	}
	return obj;
}

/* A string member: NULL when absent or JSON null; IV_ERR_INVALID when of
 * another type. */
static int opt_string(json_t *obj, const char *path, const char **out, char *err, size_t err_len)
{
	json_t *v = at(obj, path);
	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		FAIL("%s: must be a string", path);
	*out = json_string_value(v);
	return 0;
}

/* An integer member in [0, MAX]; DFLT when absent (proto3 JSON omits zeros).
 * protobuf JSON writes 64-bit integers as strings; 32-bit ones as numbers. */
static int opt_uint(json_t *obj, const char *path, uint64_t max, uint64_t dflt, uint64_t *out,
		    char *err, size_t err_len)
{
	json_t *v = at(obj, path);
	*out = dflt;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (uint64_t)json_integer_value(v) > max)
		FAIL("%s: must be an integer from 0 to %llu", path, (unsigned long long)max);
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

static int base64_decode(const char *text, uint8_t *out, size_t cap, size_t *len)
{
	const char *end = NULL;
	size_t tl = strlen(text);
	if (sodium_base642bin(out, cap, text, tl, NULL, len, &end,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    end != text + tl)
		return IV_ERR_INVALID;
	return 0;
}

/* Variable-length hex (optional 0x, ':'/'-' between bytes) into OUT. */
static int hex_decode_var(const char *text, uint8_t *out, size_t cap, size_t *len)
{
	const char *end = NULL;
	size_t tl;
	if (text[0] == '0' && (text[1] == 'x' || text[1] == 'X'))
		text += 2;
	tl = strlen(text);
	if (tl == 0 || sodium_hex2bin(out, cap, text, tl, ":-", len, &end) != 0 ||
	    end != text + tl)
		return IV_ERR_INVALID;
	return 0;
}

static int parse_dev_eui(const char *text, char out[static EUI_HEX_LEN + 1], char *err,
			 size_t err_len)
{
	uint8_t eui[EUI_LEN];
	if (text == NULL)
		FAIL("DevEUI missing");
	if (eui_parse(text, eui) != 0)
		FAIL("DevEUI: 16 hex digits");
	eui_format(eui, out);
	return 0;
}

static int parse_dev_addr(const char *text, struct appserver_uplink *out, char *err,
			  size_t err_len)
{
	uint8_t b[4];
	if (text == NULL || text[0] == '\0')
		return 0;
	if (hex_decode_exact(text, b, sizeof(b)) != 0)
		FAIL("DevAddr: 8 hex digits");
	out->dev_addr = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
	out->has_dev_addr = true;
	return 0;
}

/* SessionKeyID bytes to their canonical text (upper-case hex). */
static int set_skid(const uint8_t *b, size_t n, struct appserver_uplink *out, char *err,
		    size_t err_len)
{
	if (n == 0 || 2 * n > SESSION_KEY_ID_MAX)
		FAIL("SessionKeyID: 1 to %d bytes", SESSION_KEY_ID_MAX / 2);
	hex_encode_upper(b, n, out->session_key_id);
	return 0;
}

static int skid_from_hex(const char *text, struct appserver_uplink *out, char *err, size_t err_len)
{
	uint8_t b[SESSION_KEY_ID_MAX / 2];
	size_t n = 0;
	if (text == NULL || text[0] == '\0')
		return 0;
	if (hex_decode_var(text, b, sizeof(b), &n) != 0)
		FAIL("SessionKeyID: hex, at most %d bytes", SESSION_KEY_ID_MAX / 2);
	return set_skid(b, n, out, err, err_len);
}

static int skid_from_base64(const char *text, struct appserver_uplink *out, char *err,
			    size_t err_len)
{
	uint8_t b[SESSION_KEY_ID_MAX / 2];
	size_t n = 0;
	if (text == NULL || text[0] == '\0')
		return 0;
	if (base64_decode(text, b, sizeof(b), &n) != 0)
		FAIL("session_key_id: base64, at most %d bytes", SESSION_KEY_ID_MAX / 2);
	return set_skid(b, n, out, err, err_len);
}

/* An envelope: KEK label (may be empty: plaintext key) and the key bytes in
 * base64 (BASE64) or hex. */
static int parse_envelope(const char *label, const char *key, bool base64,
			  struct appserver_uplink *out, char *err, size_t err_len)
{
	struct key_envelope *e = &out->app_s_key;
	size_t n = 0;
	int r;
	if (key == NULL || key[0] == '\0')
		return 0; /* no envelope */
	if (label != NULL && strlen(label) > KEK_LABEL_MAX)
		FAIL("AppSKey envelope: KEK label longer than %d", KEK_LABEL_MAX);
	r = base64 ? base64_decode(key, e->data, sizeof(e->data), &n)
		   : hex_decode_var(key, e->data, sizeof(e->data), &n);
	if (r != 0 || !(n == WRAPPED_SESSION_KEY_LEN || n == LORAWAN_KEY_LEN))
		FAIL("AppSKey envelope: a 24-byte wrapped key or a 16-byte key");
	if ((n == WRAPPED_SESSION_KEY_LEN) != (label != NULL && label[0] != '\0'))
		FAIL("AppSKey envelope: a wrapped key needs its KEK label, a plain one has none");
	e->len = n;
	codec_clean_string(label ? label : "", e->kek_label, sizeof(e->kek_label));
	out->has_envelope = true;
	return 0;
}

static int parse_payload_b64(const char *text, struct appserver_uplink *out, char *err,
			     size_t err_len)
{
	if (text == NULL)
		return 0;
	if (strlen(text) > sodium_base64_ENCODED_LEN(LORAWAN_FRM_PAYLOAD_MAX,
						      sodium_base64_VARIANT_ORIGINAL) ||
	    base64_decode(text, out->payload, sizeof(out->payload), &out->payload_len) != 0)
		FAIL("FRMPayload: base64 of at most %d bytes", LORAWAN_FRM_PAYLOAD_MAX);
	return 0;
}

/* proto3 JSON omits FPort 0: a payload without a port is MAC commands,
 * which belong to the network server. */
static int no_mac_payload(const struct appserver_uplink *out, char *err, size_t err_len)
{
	if (!out->has_f_port && out->payload_len > 0)
		FAIL("FPort 0 carries MAC commands, not application data");
	return 0;
}

static void init(struct appserver_uplink *out, const char *source)
{
	memset(out, 0, sizeof(*out));
	out->source = source;
}

/* ------------------------------------------------------------ ChirpStack v4 */

int appserver_parse_chirpstack(const char *event, json_t *body, struct appserver_uplink *out,
			       char *err, size_t err_len)
{
	static const char *const ignored[] = {"ack", "txack", "log", "status", "location",
					      "integration", NULL};
	const char *s, *label, *key;
	uint64_t v;
	int r;

	init(out, "chirpstack");
	if (event == NULL)
		FAIL("event: query parameter missing (up, join, ack, txack, log, status)");
	if (!json_is_object(body))
		FAIL("body: a JSON object");
	if (strcmp(event, "up") == 0)
		out->event = APPSERVER_EVENT_UP;
	else if (strcmp(event, "join") == 0)
		out->event = APPSERVER_EVENT_JOIN;
	else {
		for (size_t i = 0; ignored[i]; i++)
			if (strcmp(event, ignored[i]) == 0)
				return 0; /* APPSERVER_EVENT_IGNORED */
		FAIL("event: unknown event type");
	}
	if ((r = opt_string(body, "deviceInfo.devEui", &s, err, err_len)) != 0 ||
	    (r = parse_dev_eui(s, out->dev_eui, err, err_len)) != 0 ||
	    (r = opt_string(body, "devAddr", &s, err, err_len)) != 0 ||
	    (r = parse_dev_addr(s, out, err, err_len)) != 0 ||
	    (r = opt_string(body, "joinServerContext.sessionKeyId", &s, err, err_len)) != 0 ||
	    (r = skid_from_hex(s, out, err, err_len)) != 0 ||
	    (r = opt_string(body, "joinServerContext.appSKey.kekLabel", &label, err, err_len)) != 0 ||
	    (r = opt_string(body, "joinServerContext.appSKey.aesKey", &key, err, err_len)) != 0 ||
	    (r = parse_envelope(label, key, true, out, err, err_len)) != 0)
		return r;
	if (at(body, "joinServerContext") == NULL)
		FAIL("joinServerContext missing: the payload is not end-to-end encrypted");
	if (out->event == APPSERVER_EVENT_JOIN)
		return 0;
	if ((r = opt_uint(body, "fCnt", UINT32_MAX, 0, &v, err, err_len)) != 0)
		return r;
	out->f_cnt = (uint32_t)v;
	if ((r = opt_uint(body, "fPort", 255, 0, &v, err, err_len)) != 0)
		return r;
	out->f_port = (uint8_t)v;
	out->has_f_port = v != 0;
	if ((r = opt_string(body, "data", &s, err, err_len)) != 0 ||
	    (r = parse_payload_b64(s, out, err, err_len)) != 0)
		return r;
	return no_mac_payload(out, err, err_len);
}

/* ------------------------------------------------------------ The Things Stack */

/* TTS identifiers: lower-case letters, digits and single dashes, 2..36
 * characters (ID and EUI constraints of The Things Stack); they end up in a
 * URL path, so nothing else passes. */
static int tts_id(json_t *body, const char *path, char *out, size_t cap, char *err, size_t err_len)
{
	const char *s;
	size_t n;
	int r;
	if ((r = opt_string(body, path, &s, err, err_len)) != 0)
		return r;
	if (s == NULL)
		return 0;
	n = strlen(s);
	if (n < 2 || n > 36 || n >= cap || s[0] == '-' || s[n - 1] == '-')
		FAIL("%s: a The Things Stack identifier", path);
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		      (s[i] == '-' && s[i + 1] != '-')))
			FAIL("%s: a The Things Stack identifier", path);
	memcpy(out, s, n + 1);
	return 0;
}

int appserver_parse_tts(json_t *body, struct appserver_uplink *out, char *err, size_t err_len)
{
	static const char *const ignored[] = {
		"downlink_ack", "downlink_nack", "downlink_sent", "downlink_failed",
		"downlink_queued", "downlink_queue_invalidated", "location_solved",
		"service_data", "uplink_normalized", NULL};
	const char *s, *label, *key, *msg;
	json_t *m;
	uint64_t v;
	int r;

	init(out, "tts");
	if (!json_is_object(body))
		FAIL("body: a JSON object");
	if (json_is_object(json_object_get(body, "uplink_message"))) {
		out->event = APPSERVER_EVENT_UP;
		msg = "uplink_message";
	} else if (json_is_object(json_object_get(body, "join_accept"))) {
		out->event = APPSERVER_EVENT_JOIN;
		msg = "join_accept";
	} else {
		for (size_t i = 0; ignored[i]; i++)
			if (json_object_get(body, ignored[i]) != NULL)
				return 0;
		FAIL("no uplink_message, join_accept or other known message");
	}
	m = json_object_get(body, msg);
	if ((r = opt_string(body, "end_device_ids.dev_eui", &s, err, err_len)) != 0 ||
	    (r = parse_dev_eui(s, out->dev_eui, err, err_len)) != 0 ||
	    (r = opt_string(body, "end_device_ids.dev_addr", &s, err, err_len)) != 0 ||
	    (r = parse_dev_addr(s, out, err, err_len)) != 0 ||
	    (r = tts_id(body, "end_device_ids.device_id", out->tts_device_id,
			sizeof(out->tts_device_id), err, err_len)) != 0 ||
	    (r = tts_id(body, "end_device_ids.application_ids.application_id",
			out->tts_application_id, sizeof(out->tts_application_id), err, err_len)) != 0 ||
	    (r = opt_string(m, "session_key_id", &s, err, err_len)) != 0 ||
	    (r = skid_from_base64(s, out, err, err_len)) != 0 ||
	    (r = opt_string(m, "app_s_key.kek_label", &label, err, err_len)) != 0 ||
	    (r = opt_string(m, "app_s_key.encrypted_key", &key, err, err_len)) != 0)
		return r;
	if (key == NULL || key[0] == '\0') {
		/* an unwrapped AppSKey travels as app_s_key.key */
		if ((r = opt_string(m, "app_s_key.key", &key, err, err_len)) != 0)
			return r;
		label = NULL;
	}
	if ((r = parse_envelope(label, key, true, out, err, err_len)) != 0)
		return r;
	if (out->event == APPSERVER_EVENT_JOIN)
		return 0;
	if ((r = opt_uint(m, "f_cnt", UINT32_MAX, 0, &v, err, err_len)) != 0)
		return r;
	out->f_cnt = (uint32_t)v;
	if ((r = opt_uint(m, "f_port", 255, 0, &v, err, err_len)) != 0)
		return r;
	out->f_port = (uint8_t)v;
	out->has_f_port = v != 0;
	if ((r = opt_string(m, "frm_payload", &s, err, err_len)) != 0 ||
	    (r = parse_payload_b64(s, out, err, err_len)) != 0)
		return r;
	return no_mac_payload(out, err, err_len);
}

/* ------------------------------------------------------------ native */

static const char *const native_events[] = {"up", "join", NULL};
static const char *const native_widths[] = {"16", "32", NULL};

static const struct field_spec native_spec[] = {
	{"event", FIELD_ENUM, 1, 0, 0, native_events, NULL},
	{"dev_eui", FIELD_EUI, 1, 0, 0, NULL, "16 hex digits"},
	{"session_key_id", FIELD_HEX, 1, 1, SESSION_KEY_ID_MAX / 2, NULL, "hex"},
	{"dev_addr", FIELD_HEX, 0, 4, 4, NULL, "8 hex digits"},
	{"f_cnt", FIELD_INT, 0, 0, 4294967295L, NULL, NULL},
	{"f_cnt_bits", FIELD_ENUM, 0, 0, 0, native_widths, NULL},
	{"f_port", FIELD_INT, 0, 1, 223, NULL, NULL},
	{"frm_payload", FIELD_STRING, 0, 0, 400, NULL, "base64"},
	{"app_s_key", FIELD_OBJECT, 0, 0, 0, NULL, NULL},
	{NULL, 0, 0, 0, 0, NULL, NULL},
};

static const struct field_spec native_envelope_spec[] = {
	{"kek_label", FIELD_STRING, 0, 0, KEK_LABEL_MAX, NULL, NULL},
	{"aes_key", FIELD_HEX, 1, 16, 24, NULL, "hex"},
	{NULL, 0, 0, 0, 0, NULL, NULL},
};

int appserver_parse_native(json_t *body, struct appserver_uplink *out, char *err, size_t err_len)
{
	json_t *errors = NULL, *env;
	const char *s;
	int r;

	init(out, "native");
	if (!json_is_object(body))
		FAIL("body: a JSON object");
	if (fieldspec_validate(native_spec, body, &errors) != 0) {
		json_t *first = json_array_get(errors, 0);
		snprintf(err, err_len, "%s: %s",
			 json_string_value(json_object_get(first, "field")) ?: "body",
			 json_string_value(json_object_get(first, "message")) ?: "invalid");
		json_decref(errors);
		return IV_ERR_INVALID;
	}
	env = json_object_get(body, "app_s_key");
	if (env != NULL && !json_is_null(env)) {
		if (fieldspec_validate(native_envelope_spec, env, &errors) != 0) {
			json_decref(errors);
			FAIL("app_s_key: {\"kek_label\", \"aes_key\" (hex)}");
		}
		if ((r = parse_envelope(fieldspec_string(env, "kek_label"),
					fieldspec_string(env, "aes_key"), false, out, err, err_len)) != 0)
			return r;
	}
	out->event = strcmp(fieldspec_string(body, "event"), "up") == 0 ? APPSERVER_EVENT_UP
									 : APPSERVER_EVENT_JOIN;
	if ((r = parse_dev_eui(fieldspec_string(body, "dev_eui"), out->dev_eui, err, err_len)) != 0 ||
	    (r = skid_from_hex(fieldspec_string(body, "session_key_id"), out, err, err_len)) != 0 ||
	    (r = parse_dev_addr(fieldspec_string(body, "dev_addr"), out, err, err_len)) != 0)
		return r;
	if (out->event == APPSERVER_EVENT_JOIN)
		return 0;
	if (json_object_get(body, "f_cnt") == NULL || json_object_get(body, "f_port") == NULL)
		FAIL("an uplink needs f_cnt and f_port");
	out->f_cnt = (uint32_t)fieldspec_int(body, "f_cnt", 0);
	s = fieldspec_string(body, "f_cnt_bits");
	out->f_cnt_16 = s != NULL && strcmp(s, "16") == 0;
	if (out->f_cnt_16 && out->f_cnt > UINT16_MAX)
		FAIL("f_cnt: at most 65535 with f_cnt_bits 16");
	out->f_port = (uint8_t)fieldspec_int(body, "f_port", 0);
	out->has_f_port = true;
	return parse_payload_b64(fieldspec_string(body, "frm_payload") ?: "", out, err, err_len);
}
