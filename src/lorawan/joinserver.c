/* TS002 (LoRaWAN Backend Interfaces) join server: message header and peer
 * authentication, then JoinReq, AppSKeyReq and HomeNSReq. The root keys stay
 * in the vault (vault_lorawan_*); DevNonce and JoinNonce rules are enforced by
 * the database in one transaction with the session they create. A tenant's
 * own peer is answered only for that tenant's devices; installation-wide
 * peers for every tenant's. iotvault parses no Result of a peer (it never
 * sends requests), so accepting "UnknownReceiverID" beside "UnknownReceiver"
 * is a matter for the answers it produces: per peer, see
 * peer_record.receiver_unknown_code. */
#include "iotvault/joinserver.h"
#include "iotvault/crypto.h"
#include "iotvault/device.h"
#include "iotvault/hex.h"
#include "iotvault/http.h"
#include "iotvault/log.h"
#include "iotvault/lorawan.h"
#include "iotvault/peer_auth.h"
#include "iotvault/secmem.h"
#include "iotvault/store_lorawan.h"
#include "iotvault/vault_lorawan.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define ID_MAX 64

struct ts002_header {
	char protocol_version[8];
	char sender_id[ID_MAX + 1];
	char receiver_id[ID_MAX + 1];
	json_int_t transaction_id;
	char message_type[32];
	json_t *sender_token; /* borrowed from the request */
};

/* A request failure: the result code and a description for the answer. */
struct ts002_fail {
	const char *code;
	char description[160];
};

#define FAIL(f, c, ...)                                                         \
	do {                                                                    \
		(f)->code = (c);                                                \
		snprintf((f)->description, sizeof((f)->description), __VA_ARGS__); \
	} while (0)

/* ---- field helpers ---- */

static const char *str_field(json_t *req, const char *name, size_t max)
{
	json_t *v = json_object_get(req, name);
	if (!json_is_string(v) || json_string_length(v) > max ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return NULL;
	return json_string_value(v);
}

/* Hex of exactly LEN bytes, case-insensitive, optional 0x. */
static int hex_field(json_t *req, const char *name, uint8_t *out, size_t len)
{
	const char *s = str_field(req, name, 4 * len + 8);
	return s && hex_decode_exact(s, out, len) == 0 ? 0 : IV_ERR_INVALID;
}

/* Hex of 1..CAP bytes. */
static int hex_field_var(json_t *req, const char *name, uint8_t *out, size_t cap, size_t *len)
{
	const char *s = str_field(req, name, 2 * cap + 2);
	size_t digits;
	if (s == NULL)
		return IV_ERR_INVALID;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	digits = strlen(s);
	if (digits == 0 || digits % 2 != 0 || digits / 2 > cap)
		return IV_ERR_INVALID;
	*len = digits / 2;
	return hex_decode_exact(s, out, *len);
}

/* A sender or receiver ID. NetIDs, JoinEUIs and other hex IDs compare
 * case-insensitively and without 0x; anything else (an AS-ID is free text)
 * is kept exactly as sent. */
static void canonical_id(const char *in, char *out, size_t cap)
{
	const char *digits = in;
	size_t n = 0;
	int hex = 1;

	if (digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X'))
		digits += 2;
	for (const char *p = digits; *p; p++)
		hex &= (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F');
	if (!hex || digits[0] == '\0') {
		snprintf(out, cap, "%s", in);
		return;
	}
	for (; *digits && n + 1 < cap; digits++)
		out[n++] = (*digits >= 'a' && *digits <= 'f') ? (char)(*digits - 32) : *digits;
	out[n] = '\0';
}

static int parse_header(json_t *req, struct ts002_header *h, struct ts002_fail *f)
{
	const char *pv = str_field(req, "ProtocolVersion", 7), *s, *r, *mt;
	json_t *tid = json_object_get(req, "TransactionID");

	memset(h, 0, sizeof(*h));
	if (pv == NULL || (strcmp(pv, "1.0") != 0 && strcmp(pv, "1.1") != 0)) {
		FAIL(f, "MalformedRequest", "ProtocolVersion: 1.0 or 1.1");
		return IV_ERR_INVALID;
	}
	snprintf(h->protocol_version, sizeof(h->protocol_version), "%s", pv);
	if ((s = str_field(req, "SenderID", ID_MAX)) == NULL || s[0] == '\0') {
		FAIL(f, "MalformedRequest", "SenderID: required");
		return IV_ERR_INVALID;
	}
	canonical_id(s, h->sender_id, sizeof(h->sender_id));
	if ((r = str_field(req, "ReceiverID", ID_MAX)) == NULL || r[0] == '\0') {
		FAIL(f, "MalformedRequest", "ReceiverID: required");
		return IV_ERR_INVALID;
	}
	canonical_id(r, h->receiver_id, sizeof(h->receiver_id));
	if (!json_is_integer(tid) || json_integer_value(tid) < 0 ||
	    json_integer_value(tid) > 0xffffffffLL) {
		FAIL(f, "MalformedRequest", "TransactionID: an integer 0 to 4294967295");
		return IV_ERR_INVALID;
	}
	h->transaction_id = json_integer_value(tid);
	if ((mt = str_field(req, "MessageType", 31)) == NULL) {
		FAIL(f, "MalformedRequest", "MessageType: required");
		return IV_ERR_INVALID;
	}
	snprintf(h->message_type, sizeof(h->message_type), "%s", mt);
	h->sender_token = json_object_get(req, "SenderToken");
	return 0;
}

static json_t *answer_base(const struct ts002_header *h, const char *type)
{
	json_t *a = json_object();
	json_object_set_new(a, "ProtocolVersion",
			    json_string(h->protocol_version[0] ? h->protocol_version : "1.0"));
	json_object_set_new(a, "SenderID", json_string(h->receiver_id));
	json_object_set_new(a, "ReceiverID", json_string(h->sender_id));
	json_object_set_new(a, "TransactionID", json_integer(h->transaction_id));
	json_object_set_new(a, "MessageType", json_string(type));
	if (h->sender_token && json_is_string(h->sender_token))
		json_object_set(a, "ReceiverToken", h->sender_token);
	return a;
}

static void set_result(json_t *a, const char *code, const char *description)
{
	json_t *res = json_object();
	json_object_set_new(res, "ResultCode", json_string(code));
	if (description && description[0])
		json_object_set_new(res, "Description", json_string(description));
	json_object_set_new(a, "Result", res);
}

static const char *answer_type(const char *req_type)
{
	if (strcmp(req_type, "JoinReq") == 0)
		return "JoinAns";
	if (strcmp(req_type, "RejoinReq") == 0)
		return "RejoinAns";
	if (strcmp(req_type, "AppSKeyReq") == 0)
		return "AppSKeyAns";
	if (strcmp(req_type, "HomeNSReq") == 0)
		return "HomeNSAns";
	return "ErrorNotif";
}

static void security_event(struct service *svc, int64_t tenant_id, const char *kind,
			   const char *source, const char *subject, const char *detail)
{
	struct security_event ev = {tenant_id, kind, source, subject, detail};
	if (svc->st->ops->lorawan->security_event_add(svc->st, &ev) != 0)
		log_error("joinserver: cannot record security event %s", kind);
	log_warning("joinserver: %s from %s (%s)", kind, source, subject ? subject : "");
}

/* ---- peers ---- */

static int authenticate(struct service *svc, const struct js_request_ctx *ctx,
			const struct ts002_header *h, struct peer_record *peer, struct ts002_fail *f)
{
	int ok = 0;
	if (svc->st->ops->lorawan->peer_get_by_sender(svc->st, h->sender_id, peer) != 0) {
		security_event(svc, 0, "peer_unknown", ctx->source, h->sender_id, "");
		FAIL(f, "UnknownSender", "SenderID is not a configured peer");
		return IV_ERR_UNAUTHENTICATED;
	}
	if (ctx->cert_sha256 && peer->cert_sha256[0] &&
	    strcasecmp(ctx->cert_sha256, peer->cert_sha256) == 0)
		ok = 1;
	if (!ok && peer->client_ca[0] && ctx->ncerts > 0)
		ok = peer_client_chain_verify(peer->client_ca, peer->client_cert_cn, ctx->certs,
					      ctx->ncerts) == 0;
	if (!ok && ctx->bearer && peer->has_token) {
		uint8_t digest[32];
		peer_token_hash(ctx->bearer, digest);
		ok = secmem_equal(digest, peer->token_sha256, sizeof(digest)) == 0;
	}
	if (!ok) {
		security_event(svc, 0, "peer_auth_failed", ctx->source, peer->name,
			       "no matching client certificate (pinned or from its CA) or bearer token");
		FAIL(f, "UnknownSender", "the sender did not authenticate as this peer");
		return IV_ERR_UNAUTHENTICATED;
	}
	return 0;
}

/* A tenant's peer may ask only about that tenant's devices; an
 * installation-wide peer (tenant 0) about every tenant's. */
static int peer_serves(const struct peer_record *peer, const struct device_record *dev)
{
	return peer->tenant_id == 0 || peer->tenant_id == dev->tenant_id;
}

/* A device of another tenant is answered exactly like a missing one. */
static void refuse_other_tenant(struct service *svc, const struct peer_record *peer,
				const char *eui_hex, const char *what, struct ts002_fail *f)
{
	security_event(svc, peer->tenant_id, "peer_tenant_denied", peer->name, eui_hex, what);
	FAIL(f, "UnknownDevEUI", "no such device");
}

/* ReceiverID names the join server by the device's JoinEUI. */
static int receiver_ok(const struct ts002_header *h, const struct peer_record *peer,
		       const struct device_record *dev, struct ts002_fail *f)
{
	if (strcmp(h->receiver_id, dev->join_eui) == 0)
		return 1;
	FAIL(f, strcmp(peer->receiver_unknown_code, "UnknownReceiverID") == 0 ? "UnknownReceiverID"
										: "UnknownReceiver",
	     "ReceiverID is not the JoinEUI of this device");
	return 0;
}

static json_t *envelope_json(const struct key_envelope *e)
{
	char hex[2 * WRAPPED_SESSION_KEY_LEN + 1];
	json_t *o = json_object();
	hex_encode_upper(e->data, e->len, hex);
	json_object_set_new(o, "KEKLabel", json_string(e->kek_label));
	json_object_set_new(o, "AESKey", json_string(hex));
	secmem_wipe(hex, sizeof(hex));
	return o;
}

/* ---- JoinReq ---- */

static int random_dev_nonces(const char *mac_version)
{
	/* LoRaWAN 1.0.0-1.0.3 devices draw DevNonces at random; 1.0.4 and 1.1 count */
	return strcmp(mac_version, "1.0.4") != 0 && strcmp(mac_version, "1.1") != 0;
}

/* JoinReq and RejoinReq: the same fields and the same transaction; they
 * differ in the frame, its MIC key and the nonce rule. */
static void handle_activation(struct service *svc, const struct ts002_header *h, json_t *req,
			      const struct peer_record *ns, json_t *ans, struct ts002_fail *f, int rejoin)
{
	struct store *st = svc->st;
	struct lorawan_frame frame;
	struct device_record dev;
	struct peer_record as_peer;
	struct vault_join_in in;
	struct vault_join_out out;
	struct lorawan_session_record sess;
	uint8_t phy[LORAWAN_PHY_PAYLOAD_MAX], dev_eui[8], dev_addr[4], dl[1], cflist[16], sk[16];
	char eui_hex[17], home[7], phy_hex[2 * LORAWAN_JOIN_ACCEPT_CFLIST_LEN + 1];
	size_t phy_len = 0, cflist_len = 0;
	int64_t as_peer_id = 0;
	json_t *rx = json_object_get(req, "RxDelay");
	const char *mac = str_field(req, "MACVersion", 16);
	int r, in_tx = 0;

	memset(&in, 0, sizeof(in));
	memset(&out, 0, sizeof(out));
	const char *what = rejoin ? "RejoinReq" : "JoinReq";
	const uint8_t *frame_dev_eui, *frame_join_eui;
	uint8_t join_eui[8];
	uint16_t nonce;

	if (strcmp(ns->kind, "ns") != 0) {
		FAIL(f, "UnknownSender", "%s comes from network servers only", what);
		return;
	}
	if (mac == NULL || !mac_version_valid(mac)) {
		FAIL(f, "MalformedRequest", "MACVersion: 1.0.0 to 1.0.4 or 1.1");
		return;
	}
	if (hex_field_var(req, "PHYPayload", phy, sizeof(phy), &phy_len) != 0) {
		FAIL(f, "MalformedRequest", "PHYPayload: hex of a %s", rejoin ? "RejoinRequest" : "JoinRequest");
		return;
	}
	if (hex_field(req, "DevEUI", dev_eui, 8) != 0 || hex_field(req, "DevAddr", dev_addr, 4) != 0 ||
	    hex_field(req, "DLSettings", dl, 1) != 0) {
		FAIL(f, "MalformedRequest", "DevEUI (8 bytes), DevAddr (4) and DLSettings (1): hex");
		return;
	}
	if (!json_is_integer(rx) || json_integer_value(rx) < 0 || json_integer_value(rx) > 15) {
		FAIL(f, "MalformedRequest", "RxDelay: an integer 0 to 15");
		return;
	}
	if (json_object_get(req, "CFList") && str_field(req, "CFList", 64) &&
	    str_field(req, "CFList", 64)[0] != '\0') {
		if (hex_field_var(req, "CFList", cflist, sizeof(cflist), &cflist_len) != 0 ||
		    cflist_len != sizeof(cflist)) {
			FAIL(f, "MalformedRequest", "CFList: 16 bytes of hex");
			return;
		}
	}
	if (lorawan_frame_parse(phy, phy_len, &frame) != 0 ||
	    frame.mtype != (rejoin ? LORAWAN_MTYPE_REJOIN_REQUEST : LORAWAN_MTYPE_JOIN_REQUEST)) {
		FAIL(f, "MalformedRequest", "PHYPayload is not a %s",
		     rejoin ? "RejoinRequest" : "JoinRequest");
		return;
	}
	frame_dev_eui = rejoin ? frame.u.rejoin_request.dev_eui : frame.u.join_request.dev_eui;
	if (memcmp(frame_dev_eui, dev_eui, 8) != 0) { /* lint:not-secret */
		FAIL(f, "MalformedRequest", "DevEUI differs from the PHYPayload's");
		return;
	}
	nonce = rejoin ? frame.u.rejoin_request.rj_count : frame.u.join_request.dev_nonce;
	eui_format(dev_eui, eui_hex);
	r = st->ops->lorawan->device_get_by_dev_eui(st, eui_hex, &dev, &as_peer_id, home);
	if (r == IV_ERR_NOT_FOUND || (r == 0 && strcmp(dev.kind, "lorawan") != 0)) {
		security_event(svc, 0, "unknown_dev_eui", ns->name, eui_hex, what);
		FAIL(f, "UnknownDevEUI", "no such device");
		return;
	}
	if (r != 0) {
		FAIL(f, "Other", "storage error");
		return;
	}
	if (!peer_serves(ns, &dev)) {
		refuse_other_tenant(svc, ns, eui_hex, what, f);
		return;
	}
	if (eui_parse(dev.join_eui, join_eui) != 0) {
		FAIL(f, "Other", "storage error");
		return;
	}
	if (rejoin && strcmp(dev.mac_version, "1.1") != 0) {
		FAIL(f, "JoinReqFailed", "RejoinRequests exist only for LoRaWAN 1.1 devices");
		return;
	}
	/* a JoinRequest and a type 1 rejoin name the JoinEUI; types 0 and 2 the NetID */
	frame_join_eui = rejoin ? frame.u.rejoin_request.join_eui : frame.u.join_request.join_eui;
	if ((!rejoin || frame.u.rejoin_request.type == 1) &&
	    memcmp(frame_join_eui, join_eui, 8) != 0) { /* lint:not-secret */
		security_event(svc, dev.tenant_id, "join_eui_mismatch", ns->name, eui_hex, what);
		FAIL(f, "JoinReqFailed", "the JoinEUI is not this device's");
		return;
	}
	if (!receiver_ok(h, ns, &dev, f))
		return;
	/* an AS peer of another tenant never receives this tenant's AppSKey */
	if (as_peer_id != 0 && (st->ops->lorawan->peer_get(st, as_peer_id, &as_peer) != 0 ||
				!peer_serves(&as_peer, &dev)))
		as_peer_id = 0;
	/* JoinRequests: AppKey/NwkKey; type 1 rejoins: JSIntKey; types 0 and 2:
	 * the SNwkSIntKey of the current session, so a rejoin recorded under an
	 * older session can never be replayed */
	if (!rejoin)
		r = vault_lorawan_verify_join_request(svc->v, &dev, phy, phy_len);
	else if (frame.u.rejoin_request.type == 1)
		r = vault_lorawan_verify_rejoin_1(svc->v, &dev, phy, phy_len);
	else {
		struct lorawan_session_record cur;
		r = st->ops->lorawan->session_latest(st, dev.id, &cur);
		if (r == 0)
			r = vault_lorawan_verify_rejoin_0_2(svc->v, dev.tenant_id, cur.id, phy, phy_len);
		else if (r == IV_ERR_NOT_FOUND)
			r = IV_ERR_MIC_FAILED; /* no session to rejoin from */
	}
	if (r == IV_ERR_MIC_FAILED) {
		security_event(svc, dev.tenant_id, "mic_failed", ns->name, eui_hex, what);
		FAIL(f, "MICFailed", "the %s MIC does not verify", rejoin ? "RejoinRequest" : "JoinRequest");
		return;
	}
	if (r != 0) {
		FAIL(f, "Other", "the device's root key is not available");
		return;
	}

	if ((r = st->ops->begin(st, 1)) != 0) {
		FAIL(f, "Other", "storage busy");
		return;
	}
	in_tx = 1;
	if (!rejoin)
		r = st->ops->lorawan->dev_nonce_use(st, dev.id, nonce, random_dev_nonces(dev.mac_version));
	else if (frame.u.rejoin_request.type == 1)
		r = st->ops->lorawan->rj_count1_use(st, dev.id, nonce);
	else
		r = st->ops->lorawan->rj_count0_use(st, dev.id, nonce);
	if (r == IV_ERR_REFUSED) {
		st->ops->rollback(st);
		in_tx = 0;
		security_event(svc, dev.tenant_id, rejoin ? "rj_count_replayed" : "dev_nonce_replayed",
			       ns->name, eui_hex,
			       rejoin ? "RJcount not greater than the last"
			       : random_dev_nonces(dev.mac_version) ? "DevNonce used before"
								    : "DevNonce not greater than the last");
		FAIL(f, "FrameReplayed", "%s already used", rejoin ? "RJcount" : "DevNonce");
		return;
	}
	memset(&sess, 0, sizeof(sess));
	random_bytes(sk, sizeof(sk));
	hex_encode_upper(sk, sizeof(sk), sess.session_key_id);
	sess.device_id = dev.id;
	sess.tenant_id = dev.tenant_id;
	sess.dev_addr = (uint32_t)dev_addr[0] << 24 | (uint32_t)dev_addr[1] << 16 |
			(uint32_t)dev_addr[2] << 8 | dev_addr[3];
	snprintf(sess.mac_version, sizeof(sess.mac_version), "%s", dev.mac_version);
	sess.opt_neg = strcmp(dev.mac_version, "1.1") == 0;
	sess.ns_peer_id = ns->id;
	in.dev = &dev;
	in.phy = phy;
	in.phy_len = phy_len;
	memcpy(in.join_eui, join_eui, 8);
	memcpy(in.dev_eui, dev_eui, 8);
	in.dev_nonce = nonce;
	in.join_req_type = rejoin ? frame.u.rejoin_request.type : LORAWAN_JOIN_REQ_TYPE_JOIN;
	in.net_id = (uint32_t)strtoul(ns->sender_id, NULL, 16) & 0xffffff;
	in.dev_addr = sess.dev_addr;
	in.dl_settings = sess.opt_neg ? (uint8_t)(dl[0] | LORAWAN_DLSETTINGS_OPTNEG)
				      : (uint8_t)(dl[0] & ~LORAWAN_DLSETTINGS_OPTNEG);
	in.rx_delay = (uint8_t)json_integer_value(rx);
	in.has_cflist = cflist_len == sizeof(cflist);
	if (in.has_cflist)
		memcpy(in.cflist, cflist, sizeof(cflist));
	in.ns_peer = ns;
	in.as_peer = as_peer_id ? &as_peer : NULL;
	if ((r = r ? r : st->ops->lorawan->join_nonce_next(st, dev.id, &in.join_nonce)) != 0 ||
	    (r = st->ops->lorawan->session_insert(st, &sess)) != 0) {
		FAIL(f, r == IV_ERR_REFUSED ? "JoinReqFailed" : "Other",
		     r == IV_ERR_REFUSED ? "the JoinNonce space of this device is exhausted"
					 : "storage error");
		goto out;
	}
	in.session_row_id = sess.id;
	if ((r = vault_lorawan_answer_join(svc->v, &in, &out)) != 0) {
		FAIL(f, "Other", "session keys could not be derived");
		goto out;
	}
	/* the JoinNonce, DevNonce and sealed session are durable before the answer */
	if ((r = st->ops->commit(st)) != 0) {
		FAIL(f, "Other", "storage error");
		goto out;
	}
	in_tx = 0;
	hex_encode_upper(out.phy, out.phy_len, phy_hex);
	json_object_set_new(ans, "PHYPayload", json_string(phy_hex));
	json_object_set_new(ans, "Lifetime", json_integer(svc->cfg.joinserver_lifetime_s));
	json_object_set_new(ans, "SessionKeyID", json_string(sess.session_key_id));
	if (out.opt_neg) {
		json_object_set_new(ans, "FNwkSIntKey", envelope_json(&out.f_nwk_s_int_key));
		json_object_set_new(ans, "SNwkSIntKey", envelope_json(&out.s_nwk_s_int_key));
		json_object_set_new(ans, "NwkSEncKey", envelope_json(&out.nwk_s_enc_key));
	} else
		json_object_set_new(ans, "NwkSKey", envelope_json(&out.nwk_s_key));
	if (out.has_app_s_key)
		json_object_set_new(ans, "AppSKey", envelope_json(&out.app_s_key));
	f->code = "Success";
	f->description[0] = '\0';
out:
	if (in_tx)
		st->ops->rollback(st);
	secmem_wipe(&out, sizeof(out));
}

/* ---- AppSKeyReq and HomeNSReq ---- */

static void handle_app_s_key_req(struct service *svc, const struct ts002_header *h, json_t *req,
				 const struct peer_record *as, json_t *ans, struct ts002_fail *f)
{
	struct store *st = svc->st;
	struct lorawan_session_record sess;
	struct device_record dev;
	struct key_envelope env;
	uint8_t dev_eui[8];
	char eui_hex[17], home[7];
	const char *skid = str_field(req, "SessionKeyID", SESSION_KEY_ID_MAX);
	int64_t as_peer_id = 0;

	if (strcmp(as->kind, "as") != 0) {
		FAIL(f, "UnknownSender", "AppSKeyReq comes from application servers only");
		return;
	}
	if (hex_field(req, "DevEUI", dev_eui, 8) != 0 || skid == NULL) {
		FAIL(f, "MalformedRequest", "DevEUI (8 bytes hex) and SessionKeyID are required");
		return;
	}
	eui_format(dev_eui, eui_hex);
	json_object_set_new(ans, "DevEUI", json_string(eui_hex));
	json_object_set_new(ans, "SessionKeyID", json_string(skid));
	/* a device or session of another AS is answered exactly like a missing one */
	if (st->ops->lorawan->device_get_by_dev_eui(st, eui_hex, &dev, &as_peer_id, home) != 0 ||
	    !peer_serves(as, &dev) || as_peer_id != as->id ||
	    st->ops->lorawan->session_get(st, skid, &sess) != 0 || sess.device_id != dev.id) {
		security_event(svc, 0, "app_s_key_req_refused", as->name, eui_hex,
			       "unknown device or session, or not this AS's device");
		FAIL(f, "UnknownDevEUI", "no such device or session for this application server");
		return;
	}
	if (!receiver_ok(h, as, &dev, f))
		return;
	if (vault_lorawan_wrap_app_s_key(svc->v, dev.tenant_id, sess.id, as, &env) != 0) {
		FAIL(f, "Other", "the session key is not available");
		return;
	}
	json_object_set_new(ans, "AppSKey", envelope_json(&env));
	secmem_wipe(&env, sizeof(env));
	f->code = "Success";
	f->description[0] = '\0';
}

static void handle_home_ns_req(struct service *svc, const struct ts002_header *h, json_t *req,
			       const struct peer_record *ns, json_t *ans, struct ts002_fail *f)
{
	struct device_record dev;
	uint8_t dev_eui[8];
	char eui_hex[17], home[7];
	int64_t as_peer_id;

	if (strcmp(ns->kind, "ns") != 0) {
		FAIL(f, "UnknownSender", "HomeNSReq comes from network servers only");
		return;
	}
	if (hex_field(req, "DevEUI", dev_eui, 8) != 0) {
		FAIL(f, "MalformedRequest", "DevEUI: 8 bytes of hex");
		return;
	}
	eui_format(dev_eui, eui_hex);
	if (svc->st->ops->lorawan->device_get_by_dev_eui(svc->st, eui_hex, &dev, &as_peer_id, home) != 0) {
		security_event(svc, 0, "unknown_dev_eui", ns->name, eui_hex, "HomeNSReq");
		FAIL(f, "UnknownDevEUI", "no such device");
		return;
	}
	if (!peer_serves(ns, &dev)) {
		refuse_other_tenant(svc, ns, eui_hex, "HomeNSReq", f);
		return;
	}
	if (!receiver_ok(h, ns, &dev, f))
		return;
	if (home[0] == '\0') {
		FAIL(f, "Other", "no home NetID is configured for this device");
		return;
	}
	json_object_set_new(ans, "HNetID", json_string(home));
	f->code = "Success";
	f->description[0] = '\0';
}

/* ---- entry ---- */

void joinserver_handle(struct service *svc, const struct js_request_ctx *ctx, const uint8_t *body,
		       size_t len, json_t **answer)
{
	struct ts002_header h;
	struct ts002_fail f = {"MalformedRequest", ""};
	struct peer_record peer;
	json_error_t jerr;
	json_t *req = NULL, *ans;

	memset(&h, 0, sizeof(h));
	if (len == 0 || len > TS002_MAX_BODY) {
		FAIL(&f, "MalformedRequest", "the body must be one TS002 JSON object of at most %d bytes",
		     TS002_MAX_BODY);
		goto answer;
	}
	req = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(req)) {
		FAIL(&f, "MalformedRequest", "the body is not a JSON object");
		goto answer;
	}
	if (parse_header(req, &h, &f) != 0)
		goto answer;
	service_lock(svc);
	if (authenticate(svc, ctx, &h, &peer, &f) == 0) {
		ans = answer_base(&h, answer_type(h.message_type));
		if (strcmp(h.message_type, "JoinReq") == 0)
			handle_activation(svc, &h, req, &peer, ans, &f, 0);
		else if (strcmp(h.message_type, "RejoinReq") == 0)
			handle_activation(svc, &h, req, &peer, ans, &f, 1);
		else if (strcmp(h.message_type, "AppSKeyReq") == 0)
			handle_app_s_key_req(svc, &h, req, &peer, ans, &f);
		else if (strcmp(h.message_type, "HomeNSReq") == 0)
			handle_home_ns_req(svc, &h, req, &peer, ans, &f);
		else
			FAIL(&f, "MalformedRequest", "MessageType: JoinReq, RejoinReq, AppSKeyReq or HomeNSReq");
		service_unlock(svc);
		if (strcmp(f.code, "Success") != 0) {
			/* a failed message carries no keys or payload */
			json_decref(ans);
			ans = answer_base(&h, answer_type(h.message_type));
		}
		set_result(ans, f.code, f.description);
		*answer = ans;
		json_decref(req);
		return;
	}
	service_unlock(svc);
answer:
	ans = answer_base(&h, h.message_type[0] ? answer_type(h.message_type) : "ErrorNotif");
	set_result(ans, f.code, f.description);
	*answer = ans;
	json_decref(req);
}
