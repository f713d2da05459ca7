/* A small LwM2M client for the integration tests and bench/dtls.sh, built on
 * libcoap 3 (GnuTLS) like the server but sharing none of its code: it runs a
 * client-initiated bootstrap over DTLS-PSK and decodes the Bootstrap-Writes
 * with its own TLV reader (an independent check of the server's encoder),
 * registers, updates and de-registers, times DTLS-PSK handshakes, and
 * serves a Device object (/3/0) to the server's DM requests, writing TLV and
 * SenML CBOR with its own encoders and reading both with its own decoders.
 *
 * usage: lwm2m_client --server URI [--identity-file F --key-file F |
 *                      --cert F --cert-key F | --rpk F] COMMAND
 *   (--cert/--cert-key: X.509, PEM files; --rpk: a PEM file with the PUBLIC
 *   KEY and the PRIVATE KEY; the server's certificate is not checked)
 *   bootstrap EP OUT     writes OUT.identity (text), OUT.key (hex) and
 *                        OUT.info (uri, ssid, lifetime, binding), all 0600;
 *                        with RPK/X.509 also OUT.pub and OUT.server (hex of
 *                        /0/x/3 and /0/x/4)
 *   register EP LT VERSION BINDING [LINKS]
 *                        prints "2.01 /rd/xxxx"
 *   update LOCATION [LT] prints the response code
 *   deregister LOCATION  prints the response code
 *   handshakes N         N sequential DTLS-PSK handshakes; prints
 *                        "handshakes N ok K failed F seconds S"
 *   serve EP LT VERSION BINDING
 *                        registers (prints "2.01 /rd/xxxx"), then answers
 *                        the server's requests on /3/0 until SIGTERM; prints
 *                        "wrote /3/0/13 V (FORMAT)" and "executed /3/0/4".
 *                        SIGUSR1 makes it stop answering (a device gone quiet
 *                        or asleep); a second SIGUSR1 wakes it: it sends a
 *                        registration update ("woke: 2.04").
 *                        /3/0/9 (battery) is observable: "observed /3/0/9",
 *                        "cancelled /3/0/9"; SIGUSR2 lowers the battery by
 *                        one and notifies ("notify /3/0/9 N"); SIGHUP sends
 *                        a stale notification (Observe 0, battery 5);
 *                        SIGALRM one with a token the server never made
 *                        ("got RST" when refused). Discover (Accept 40) and
 *                        Write-Attributes (PUT with query, no payload:
 *                        "attributes /3/0/9 pmin=1&pmax=5") are served.
 *                        Execute /1/0/9 (Bootstrap-Request Trigger) is answered
 *                        2.04, printed "executed /1/0/9", and ends serve (exit
 *                        0): the caller then bootstraps and serves again.
 *                        Also serves /3/0/15 (Timezone, a string of up to 16 KiB,
 *                        read and written block-wise) and a Firmware Update
 *                        object /5/0: the image pushed to /5/0/0, or fetched
 *                        block-wise from the Package URI written to /5/0/1 on
 *                        the same DTLS session, is compared with --fw-expect
 *                        FILE (prints "firmware N bytes identical|differ";
 *                        differ: State 0, Update Result 5); Execute /5/0/2
 *                        ends with Update Result --fw-result N (default 1).
 *                        --fw-uri-file F saves the Package URI (0600, never
 *                        printed); --fw-pull-delay MS waits before fetching.
 *                        --corrupt-flag F: while file F exists, Read and
 *                        Observe answers lose their last byte (a malformed
 *                        TLV / SenML payload, as a faulty device sends).
 * The key file holds the PSK as hex; the key is never printed. Exit status:
 * 0 for a 2.xx answer, 4 for another answer (its code is printed), 3 when
 * nothing came back (handshake refused, timeout), 2 for usage errors. */
#include <coap3/coap.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TIMEOUT_MS 8000

static int done, got_code = -1, dtls_failed;
static char location[64];
static uint8_t token[8];
static size_t token_len;

/* what the bootstrap wrote */
static char bs_uri[256], bs_identity[256], bs_binding[16];
static uint8_t bs_key[64];
static size_t bs_key_len;
static uint8_t bs_pub[4096], bs_server[4096]; /* /0/x/3 and /0/x/4 as received */
static size_t bs_pub_len, bs_server_len;
static long long bs_ssid = -1, bs_lifetime = -1;
static int bs_security_mode = -1, bs_finished, bs_deletes;

static void die_usage(void)
{
	fprintf(stderr, "usage: lwm2m_client --server URI [--identity-file F --key-file F] "
			"bootstrap|register|serve|update|deregister|handshakes ...\n");
	exit(2);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t read_file(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	size_t n;
	if (f == NULL) {
		fprintf(stderr, "cannot open %s: %s\n", path, strerror(errno));
		exit(2);
	}
	n = fread(buf, 1, cap - 1, f);
	fclose(f);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	buf[n] = '\0';
	return n;
}

static size_t hex_decode(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = strlen(hex), i;
	if (n % 2 || n / 2 > cap)
		return 0;
	for (i = 0; i < n / 2; i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return 0;
		out[i] = (uint8_t)v;
	}
	return n / 2;
}

/* ---- TLV (OMA LwM2M 1.0 section 6.4.3), read independently ---- */

struct tlv {
	int type; /* 0 object instance, 1 resource instance, 2 multiple resource, 3 resource */
	unsigned id;
	const uint8_t *value;
	size_t len;
};

static int tlv_next(const uint8_t **p, const uint8_t *end, struct tlv *t)
{
	const uint8_t *q = *p;
	uint8_t h;
	size_t len = 0, ltype;
	if (q >= end)
		return 0;
	h = *q++;
	t->type = h >> 6;
	if (h & 0x20) {
		if (end - q < 2)
			return -1;
		t->id = (unsigned)q[0] << 8 | q[1];
		q += 2;
	} else {
		if (end - q < 1)
			return -1;
		t->id = *q++;
	}
	ltype = (h >> 3) & 3;
	if (ltype == 0)
		len = h & 7;
	else {
		if ((size_t)(end - q) < ltype)
			return -1;
		for (size_t i = 0; i < ltype; i++)
			len = len << 8 | *q++;
	}
	if ((size_t)(end - q) < len)
		return -1;
	t->value = q;
	t->len = len;
	*p = q + len;
	return 1;
}

static long long tlv_int(const struct tlv *t)
{
	long long v = (t->len > 0 && (t->value[0] & 0x80)) ? -1 : 0;
	for (size_t i = 0; i < t->len; i++)
		v = (long long)((unsigned long long)v << 8 | t->value[i]);
	return v;
}

static void copy_text(char *dst, size_t cap, const struct tlv *t)
{
	size_t n = t->len < cap - 1 ? t->len : cap - 1;
	memcpy(dst, t->value, n);
	dst[n] = '\0';
}

static int apply_resource(unsigned obj, const struct tlv *t)
{
	if (t->type != 3)
		return 0;
	if (obj == 0) {
		switch (t->id) {
		case 0: copy_text(bs_uri, sizeof(bs_uri), t); break;
		case 2: bs_security_mode = (int)tlv_int(t); break;
		case 3:
			copy_text(bs_identity, sizeof(bs_identity), t);
			bs_pub_len = t->len < sizeof(bs_pub) ? t->len : 0;
			memcpy(bs_pub, t->value, bs_pub_len);
			break;
		case 4:
			bs_server_len = t->len < sizeof(bs_server) ? t->len : 0;
			memcpy(bs_server, t->value, bs_server_len);
			break;
		case 5:
			if (t->len > sizeof(bs_key))
				return -1;
			memcpy(bs_key, t->value, t->len);
			bs_key_len = t->len;
			break;
		case 10: bs_ssid = tlv_int(t); break;
		}
	} else if (obj == 1) {
		switch (t->id) {
		case 0: bs_ssid = tlv_int(t); break;
		case 1: bs_lifetime = tlv_int(t); break;
		case 7: copy_text(bs_binding, sizeof(bs_binding), t); break;
		}
	}
	return 0;
}

static int tlv_apply(unsigned obj, const uint8_t *data, size_t len)
{
	const uint8_t *p = data, *end = data + len;
	struct tlv t;
	int r;
	while ((r = tlv_next(&p, end, &t)) == 1) {
		if (t.type == 0) {
			const uint8_t *q = t.value, *qend = t.value + t.len;
			struct tlv u;
			while ((r = tlv_next(&q, qend, &u)) == 1)
				if (apply_resource(obj, &u) != 0)
					return -1;
			if (r < 0)
				return -1;
		} else if (apply_resource(obj, &t) != 0)
			return -1;
	}
	return r < 0 ? -1 : 0;
}

/* ---- the Device object served to DM requests ---- */

#define CF_TLV 11542
#define CF_SENML_CBOR 112

static volatile sig_atomic_t muted, stopping;
static int bootstrap_asked;
static long long dev_time = 1700000000; /* /3/0/13 Current Time, writable */
static const char *const dev_strings[] = {"iotvault test", "lwm2m_client", "SN-0001", "1.2.3"};
static long long dev_battery = 87; /* /3/0/9, observable */
#define DEV_BATTERY dev_battery
static volatile sig_atomic_t notify_now, send_stale, send_foreign;
static coap_resource_t *res_battery;
/* the observation of /3/0/9, for the hand-made notifications */
static coap_session_t *obs_session;
static uint8_t obs_token[8];
static size_t obs_token_len;
static unsigned obs_accept;
/* Write-Attributes received, per path, shown by Discover */
static char attr_path[8][16], attr_text[8][128];

/* the readable resources of /3/0, in order */
static const unsigned dev_readable[] = {0, 1, 2, 3, 9, 13};
#define DEV_READABLE (sizeof(dev_readable) / sizeof(dev_readable[0]))

struct out {
	uint8_t b[1024];
	size_t n;
	int overflow;
};

static void put(struct out *o, const void *p, size_t n)
{
	if (o->n + n > sizeof(o->b)) {
		o->overflow = 1;
		return;
	}
	memcpy(o->b + o->n, p, n);
	o->n += n;
}

static void put_byte(struct out *o, unsigned v)
{
	uint8_t c = (uint8_t)v;
	put(o, &c, 1);
}

/* value bytes of resource ID: strings as text, integers big endian in the
 * fewest of 1/2/4/8 bytes */
static size_t tlv_value(unsigned id, uint8_t *buf)
{
	long long v;
	size_t n;
	if (id <= 3) {
		n = strlen(dev_strings[id]);
		memcpy(buf, dev_strings[id], n);
		return n;
	}
	v = id == 9 ? DEV_BATTERY : dev_time;
	n = (v >= -128 && v <= 127) ? 1 : (v >= -32768 && v <= 32767) ? 2
	    : (v >= -2147483648LL && v <= 2147483647LL)		   ? 4
										   : 8;
	for (size_t i = 0; i < n; i++)
		buf[i] = (uint8_t)((unsigned long long)v >> (8 * (n - 1 - i)));
	return n;
}

static void tlv_put(struct out *o, unsigned type, unsigned id, const uint8_t *v, size_t len)
{
	unsigned h = type << 6 | (id > 255 ? 0x20 : 0);
	if (len < 8)
		h |= (unsigned)len;
	else
		h |= len < 256 ? 0x08 : 0x10;
	put_byte(o, h);
	if (id > 255)
		put_byte(o, id >> 8);
	put_byte(o, id & 0xff);
	if (len >= 8 && len >= 256)
		put_byte(o, (unsigned)(len >> 8));
	if (len >= 8)
		put_byte(o, len & 0xff);
	put(o, v, len);
}

static void tlv_resources(struct out *o, int only)
{
	uint8_t v[64];
	for (size_t i = 0; i < DEV_READABLE; i++)
		if (only < 0 || (unsigned)only == dev_readable[i])
			tlv_put(o, 3, dev_readable[i], v, tlv_value(dev_readable[i], v));
}

static void cbor_head(struct out *o, unsigned major, unsigned long long v)
{
	major <<= 5;
	if (v < 24)
		put_byte(o, major | (unsigned)v);
	else if (v < 256) {
		put_byte(o, major | 24);
		put_byte(o, (unsigned)v);
	} else if (v < 65536) {
		put_byte(o, major | 25);
		put_byte(o, (unsigned)(v >> 8));
		put_byte(o, v & 0xff);
	} else if (v < 4294967296ULL) {
		put_byte(o, major | 26);
		for (int i = 3; i >= 0; i--)
			put_byte(o, (v >> (8 * i)) & 0xff);
	} else {
		put_byte(o, major | 27);
		for (int i = 7; i >= 0; i--)
			put_byte(o, (v >> (8 * i)) & 0xff);
	}
}

static void cbor_text(struct out *o, const char *s)
{
	cbor_head(o, 3, strlen(s));
	put(o, s, strlen(s));
}

/* SenML CBOR: one record per resource with its full name (n = 0), and
 * vs (3) for strings, v (2) for numbers */
static void senml_resources(struct out *o, int only)
{
	size_t count = 0;
	char name[32];
	for (size_t i = 0; i < DEV_READABLE; i++)
		count += only < 0 || (unsigned)only == dev_readable[i];
	cbor_head(o, 4, count);
	for (size_t i = 0; i < DEV_READABLE; i++) {
		unsigned id = dev_readable[i];
		if (only >= 0 && (unsigned)only != id)
			continue;
		snprintf(name, sizeof(name), "/3/0/%u", id);
		cbor_head(o, 5, 2);
		cbor_head(o, 0, 0);
		cbor_text(o, name);
		if (id <= 3) {
			cbor_head(o, 0, 3);
			cbor_text(o, dev_strings[id]);
		} else {
			long long v = id == 9 ? DEV_BATTERY : dev_time;
			cbor_head(o, 0, 2);
			if (v >= 0)
				cbor_head(o, 0, (unsigned long long)v);
			else
				cbor_head(o, 1, (unsigned long long)(-1 - v));
		}
	}
}

/* A CBOR head: major type, argument; 0 at the end, -1 when malformed or
 * indefinite. */
static int cbor_next(const uint8_t **p, const uint8_t *end, unsigned *major,
		     unsigned long long *v)
{
	unsigned ai, n;
	if (*p >= end)
		return 0;
	*major = **p >> 5;
	ai = **p & 31;
	(*p)++;
	if (ai < 24) {
		*v = ai;
		return 1;
	}
	if (ai > 27)
		return -1;
	n = 1u << (ai - 24);
	if ((size_t)(end - *p) < n)
		return -1;
	*v = 0;
	for (unsigned i = 0; i < n; i++)
		*v = *v << 8 | *(*p)++;
	return 1;
}

/* Applies the SenML CBOR records of a Write: only /3/0/13 is writable.
 * Returns the CoAP code. */
static int senml_apply(const uint8_t *p, const uint8_t *end)
{
	unsigned major;
	unsigned long long n;
	char bn[64] = "";
	if (cbor_next(&p, end, &major, &n) != 1 || major != 4)
		return COAP_RESPONSE_CODE_BAD_REQUEST;
	for (unsigned long long i = 0; i < n; i++) {
		unsigned long long fields;
		char name[64] = "", full[128];
		int has_value = 0;
		long long value = 0;
		if (cbor_next(&p, end, &major, &fields) != 1 || major != 5)
			return COAP_RESPONSE_CODE_BAD_REQUEST;
		for (unsigned long long f = 0; f < fields; f++) {
			unsigned km, vm;
			unsigned long long k, x;
			long long key;
			if (cbor_next(&p, end, &km, &k) != 1 || (km != 0 && km != 1) ||
			    cbor_next(&p, end, &vm, &x) != 1)
				return COAP_RESPONSE_CODE_BAD_REQUEST;
			key = km == 0 ? (long long)k : -1 - (long long)k;
			if (vm == 2 || vm == 3) { /* byte or text string: skip or keep */
				if ((size_t)(end - p) < x)
					return COAP_RESPONSE_CODE_BAD_REQUEST;
				if (vm == 3 && (key == -2 || key == 0) && x < sizeof(name)) {
					char *dst = key == -2 ? bn : name;
					memcpy(dst, p, x);
					dst[x] = '\0';
				}
				p += x;
			} else if (vm == 0 || vm == 1) {
				if (key == 2) {
					has_value = 1;
					value = vm == 0 ? (long long)x : -1 - (long long)x;
				}
			} else if (vm != 7)
				return COAP_RESPONSE_CODE_BAD_REQUEST;
		}
		snprintf(full, sizeof(full), "%s%s", bn, name);
		if (strcmp(full, "/3/0/13") != 0 || !has_value)
			return COAP_RESPONSE_CODE(405);
		dev_time = value;
	}
	return COAP_RESPONSE_CODE_CHANGED;
}

/* The same for TLV: resource TLVs (at /3/0 or /3/0/13). */
static int tlv_apply_device(const uint8_t *data, size_t len)
{
	const uint8_t *p = data, *end = data + len;
	struct tlv t;
	int r;
	while ((r = tlv_next(&p, end, &t)) == 1) {
		if (t.type != 3 || t.id != 13 || t.len == 0 || t.len > 8)
			return COAP_RESPONSE_CODE(405);
		dev_time = tlv_int(&t);
	}
	return r < 0 ? COAP_RESPONSE_CODE_BAD_REQUEST : COAP_RESPONSE_CODE_CHANGED;
}

static const char *attrs_of(const char *path)
{
	for (size_t i = 0; i < 8; i++)
		if (strcmp(attr_path[i], path) == 0)
			return attr_text[i];
	return "";
}

/* Discover: the links under the path with the attributes written to them. */
static void discover(struct out *o, const unsigned *ids, unsigned depth)
{
	char path[16], link[200];
	const char *a;
	int first = 1;
	if (depth >= 1) {
		snprintf(path, sizeof(path), depth == 1 ? "/3" : depth == 2 ? "/3/0" : "/3/0/%u", ids[2]);
		a = attrs_of(path);
		snprintf(link, sizeof(link), "<%s>%s%s", path, a[0] ? ";" : "", a);
		put(o, link, strlen(link));
		first = 0;
	}
	if (depth == 1) {
		snprintf(link, sizeof(link), ",</3/0>");
		put(o, link, strlen(link));
	}
	if (depth >= 3)
		return;
	for (size_t i = 0; i < DEV_READABLE; i++) {
		snprintf(path, sizeof(path), "/3/0/%u", dev_readable[i]);
		a = attrs_of(path);
		snprintf(link, sizeof(link), "%s<%s>%s%s", first ? "" : ",", path, a[0] ? ";" : "", a);
		put(o, link, strlen(link));
		first = 0;
	}
}

/* Write-Attributes: kept per path, '&' shown as ';' by Discover. */
static int write_attributes(const unsigned *ids, unsigned depth, const coap_string_t *q)
{
	char path[16], text[128];
	size_t slot = 8;
	snprintf(path, sizeof(path), depth == 1 ? "/3" : depth == 2 ? "/3/0" : "/3/0/%u", ids[2]);
	snprintf(text, sizeof(text), "%.*s", (int)q->length, (const char *)q->s);
	for (size_t i = 0; i < 8 && slot == 8; i++)
		if (strcmp(attr_path[i], path) == 0 || attr_path[i][0] == '\0')
			slot = i;
	if (slot == 8)
		return COAP_RESPONSE_CODE(500);
	printf("attributes %s %s\n", path, text);
	snprintf(attr_path[slot], sizeof(attr_path[slot]), "%s", path);
	for (char *c = text; *c; c++)
		if (*c == '&')
			*c = ';';
	snprintf(attr_text[slot], sizeof(attr_text[slot]), "%s", text);
	return COAP_RESPONSE_CODE_CHANGED;
}

/* A notification made by hand (libcoap numbers its own): STALE repeats the
 * observation's token with Observe 0; otherwise a token never asked for. */
static void hand_notification(int stale)
{
	static const uint8_t foreign[] = {0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03, 0x04};
	long long saved = dev_battery;
	struct out o = {.n = 0};
	uint8_t b[4];
	coap_pdu_t *pdu;
	if (obs_session == NULL)
		return;
	pdu = coap_pdu_init(COAP_MESSAGE_CON, COAP_RESPONSE_CODE_CONTENT,
			    coap_new_message_id(obs_session), coap_session_max_pdu_size(obs_session));
	if (pdu == NULL)
		return;
	coap_add_token(pdu, stale ? obs_token_len : sizeof(foreign), stale ? obs_token : foreign);
	coap_add_option(pdu, COAP_OPTION_OBSERVE, coap_encode_var_safe(b, sizeof(b), stale ? 0 : 9),
			b);
	coap_add_option(pdu, COAP_OPTION_CONTENT_FORMAT,
			coap_encode_var_safe(b, sizeof(b), obs_accept), b);
	dev_battery = 5;
	if (obs_accept == CF_SENML_CBOR)
		senml_resources(&o, 9);
	else
		tlv_resources(&o, 9);
	dev_battery = saved;
	coap_add_data(pdu, o.n, o.b);
	coap_send(obs_session, pdu);
	printf("sent %s notification\n", stale ? "stale" : "foreign");
}

/* GET, PUT, POST and DELETE on /3, /3/0 and /3/0/N. */
static const char *corrupt_flag; /* --corrupt-flag */

static void hnd_device(coap_resource_t *res, coap_session_t *s, const coap_pdu_t *req,
		       const coap_string_t *q, coap_pdu_t *resp)
{
	coap_string_t *path = coap_get_uri_path(req);
	coap_pdu_code_t method = coap_pdu_get_code(req);
	coap_opt_iterator_t it;
	coap_opt_t *opt;
	struct out o = {.n = 0};
	unsigned ids[4] = {0}, depth = 0, accept = CF_TLV, cf = CF_TLV;
	int code = COAP_RESPONSE_CODE(405);
	uint8_t cfb[4];
	(void)res;

	if (path != NULL) {
		char text[64], *save = NULL;
		snprintf(text, sizeof(text), "%.*s", (int)path->length, (const char *)path->s);
		for (char *seg = strtok_r(text, "/", &save); seg && depth < 4;
		     seg = strtok_r(NULL, "/", &save))
			ids[depth++] = (unsigned)strtoul(seg, NULL, 10);
		coap_delete_string(path);
	}
	if ((opt = coap_check_option(req, COAP_OPTION_ACCEPT, &it)) != NULL)
		accept = coap_decode_var_bytes(coap_opt_value(opt), coap_opt_length(opt));
	if ((opt = coap_check_option(req, COAP_OPTION_CONTENT_FORMAT, &it)) != NULL)
		cf = coap_decode_var_bytes(coap_opt_value(opt), coap_opt_length(opt));
	if (method == COAP_REQUEST_CODE_GET &&
	    (opt = coap_check_option(req, COAP_OPTION_OBSERVE, &it)) != NULL && depth == 3 &&
	    ids[2] == 9) {
		coap_bin_const_t tok = coap_pdu_get_token(req);
		int same = obs_session == s && tok.length == obs_token_len &&
			   memcmp(tok.s, obs_token, tok.length) == 0;
		/* libcoap hands notifications the original request: seen already */
		if (coap_decode_var_bytes(coap_opt_value(opt), coap_opt_length(opt)) == 0 && same) {
		} else if (coap_decode_var_bytes(coap_opt_value(opt), coap_opt_length(opt)) == 0 &&
		    tok.length <= sizeof(obs_token)) {
			obs_session = s;
			memcpy(obs_token, tok.s, tok.length);
			obs_token_len = tok.length;
			obs_accept = accept;
			printf("observed /3/0/9\n");
		} else
			printf("cancelled /3/0/9\n");
	}
	if (method == COAP_REQUEST_CODE_GET && accept == 40) {
		discover(&o, ids, depth);
		code = COAP_RESPONSE_CODE_CONTENT;
	} else if (method == COAP_REQUEST_CODE_PUT && q != NULL && !coap_get_data(req, &(size_t){0},
										  &(const uint8_t *){NULL})) {
		code = write_attributes(ids, depth, q);
	} else if (method == COAP_REQUEST_CODE_GET) {
		int only = depth == 3 ? (int)ids[2] : -1;
		if (depth == 3 && ids[2] == 4) {
			code = COAP_RESPONSE_CODE(405);
		} else if (accept == CF_SENML_CBOR) {
			senml_resources(&o, only);
			code = COAP_RESPONSE_CODE_CONTENT;
		} else if (accept == CF_TLV) {
			if (depth == 1) {
				struct out inner = {.n = 0};
				tlv_resources(&inner, -1);
				tlv_put(&o, 0, 0, inner.b, inner.n);
			} else
				tlv_resources(&o, only);
			code = COAP_RESPONSE_CODE_CONTENT;
		} else
			code = COAP_RESPONSE_CODE(406);
	} else if (method == COAP_REQUEST_CODE_POST && depth == 3 && ids[2] == 4) {
		printf("executed /3/0/4\n");
		code = COAP_RESPONSE_CODE_CHANGED;
	} else if ((method == COAP_REQUEST_CODE_PUT && depth >= 2) ||
		   (method == COAP_REQUEST_CODE_POST && depth == 2)) {
		const uint8_t *data;
		size_t len;
		if (!coap_get_data(req, &len, &data))
			code = COAP_RESPONSE_CODE_BAD_REQUEST;
		else if (cf == CF_SENML_CBOR)
			code = senml_apply(data, data + len);
		else if (cf == CF_TLV)
			code = tlv_apply_device(data, len);
		else
			code = COAP_RESPONSE_CODE(415);
		if (code == COAP_RESPONSE_CODE_CHANGED)
			printf("wrote /3/0/13 %lld (%s)\n", dev_time, cf == CF_TLV ? "tlv" : "senml-cbor");
	}
	if (o.overflow)
		code = COAP_RESPONSE_CODE(500);
	if (code == COAP_RESPONSE_CODE_CONTENT && accept != 40 && o.n > 0 && corrupt_flag != NULL &&
	    access(corrupt_flag, F_OK) == 0)
		o.n--;
	coap_pdu_set_code(resp, (coap_pdu_code_t)code);
	if (code == COAP_RESPONSE_CODE_CONTENT) {
		coap_add_option(resp, COAP_OPTION_CONTENT_FORMAT,
				coap_encode_var_safe(cfb, sizeof(cfb), accept), cfb);
		coap_add_data(resp, o.n, o.b);
	}
}

/* POST /1/0/9: the server wants a new bootstrap; serve returns once the
 * answer is out */
static void hnd_bootstrap_trigger(coap_resource_t *res, coap_session_t *s, const coap_pdu_t *req,
				  const coap_string_t *q, coap_pdu_t *resp)
{
	(void)res, (void)s, (void)req, (void)q;
	printf("executed /1/0/9\n");
	bootstrap_asked = 1;
	coap_pdu_set_code(resp, COAP_RESPONSE_CODE_CHANGED);
}
/* ---- /3/0/15 Timezone: a long string, read and written block-wise ---- */

static char dev_tz[16384] = "Europe/Berlin";

static void hnd_timezone(coap_resource_t *res, coap_session_t *s, const coap_pdu_t *req,
			 const coap_string_t *q, coap_pdu_t *resp)
{
	static struct {
		uint8_t b[sizeof(dev_tz) + 64];
		size_t n;
	} big;
	coap_opt_iterator_t it;
	coap_opt_t *opt;
	unsigned accept = CF_TLV, cf = CF_TLV;
	const uint8_t *data;
	size_t len, offset, total;

	if ((opt = coap_check_option(req, COAP_OPTION_ACCEPT, &it)) != NULL)
		accept = coap_decode_var_bytes(coap_opt_value(opt), coap_opt_length(opt));
	if ((opt = coap_check_option(req, COAP_OPTION_CONTENT_FORMAT, &it)) != NULL)
		cf = coap_decode_var_bytes(coap_opt_value(opt), coap_opt_length(opt));
	if (coap_pdu_get_code(req) == COAP_REQUEST_CODE_GET) {
		size_t n = strlen(dev_tz);
		big.n = 0;
		if (accept == CF_SENML_CBOR) {
			/* [{0: "/3/0/15", 3: tz}] */
			const uint8_t head[] = {0x81, 0xa2, 0x00, 0x67, '/', '3', '/', '0', '/', '1', '5', 0x03};
			memcpy(big.b, head, sizeof(head));
			big.n = sizeof(head);
			big.b[big.n++] = 0x79; /* text, 2-byte length */
			big.b[big.n++] = (uint8_t)(n >> 8);
			big.b[big.n++] = (uint8_t)n;
		} else {
			big.b[big.n++] = 0xc0 | 0x10; /* resource, 8-bit id, 16-bit length */
			big.b[big.n++] = 15;
			big.b[big.n++] = (uint8_t)(n >> 8);
			big.b[big.n++] = (uint8_t)n;
		}
		memcpy(big.b + big.n, dev_tz, n);
		big.n += n;
		coap_pdu_set_code(resp, COAP_RESPONSE_CODE_CONTENT);
		coap_add_data_large_response(res, s, req, resp, q, (uint16_t)accept, -1, 0, big.n, big.b,
					     NULL, NULL);
		return;
	}
	if (!coap_get_data_large(req, &len, &data, &offset, &total) || offset != 0 || len != total) {
		coap_pdu_set_code(resp, COAP_RESPONSE_CODE_BAD_REQUEST);
		return;
	}
	/* the text is the last and longest string of the body: find it */
	if (cf == CF_SENML_CBOR || cf == CF_TLV) {
		size_t i = 0, n = 0;
		const uint8_t *end = data + len;
		if (cf == CF_TLV) {
			struct tlv t;
			const uint8_t *p = data;
			if (tlv_next(&p, end, &t) == 1 && t.type == 3 && t.id == 15) {
				i = (size_t)(t.value - data);
				n = t.len;
			}
		} else {
			/* the vs value: a text string whose head is 0x78/0x79/0x6x */
			for (i = 0; i + 1 < len; i++) {
				if (data[i] == 0x03 && i + 1 < len && (data[i + 1] >> 5) == 3) {
					const uint8_t *p = data + i + 1;
					unsigned major;
					unsigned long long v;
					if (cbor_next(&p, end, &major, &v) == 1 && v <= (size_t)(end - p)) {
						n = (size_t)v;
						i = (size_t)(p - data);
						break;
					}
				}
			}
		}
		if (n == 0 || n >= sizeof(dev_tz)) {
			coap_pdu_set_code(resp, COAP_RESPONSE_CODE_BAD_REQUEST);
			return;
		}
		memcpy(dev_tz, data + i, n);
		dev_tz[n] = '\0';
		printf("wrote /3/0/15 %zu chars in a %zu-byte body\n", n, len);
		coap_pdu_set_code(resp, COAP_RESPONSE_CODE_CHANGED);
		return;
	}
	coap_pdu_set_code(resp, COAP_RESPONSE_CODE(415));
}

/* ---- /5/0 Firmware Update ---- */

static void write_private(const char *path, const char *text);

static const char *fw_expect_file, *fw_uri_file;
static long fw_pull_delay_ms, fw_final_result = 1;
static int fw_state, fw_result;
static char fw_path[256];
static char fw_uri[512]; /* /5/0/1 as written: read back by GET */
static double fw_pull_at = -1, fw_update_at = -1;
static uint8_t fw_token[8];
static size_t fw_token_len;

static void fw_received(const uint8_t *data, size_t len)
{
	FILE *f = fw_expect_file ? fopen(fw_expect_file, "rb") : NULL;
	int same = 0;
	if (f != NULL) {
		uint8_t *want = malloc(len + 1);
		size_t n = want ? fread(want, 1, len + 1, f) : 0;
		same = want != NULL && n == len && memcmp(want, data, len) == 0;
		free(want);
		fclose(f);
	}
	printf("firmware %zu bytes %s\n", len, same ? "identical" : "differ");
	fw_state = same ? 2 : 0;
	fw_result = same ? 0 : 5;
}

static void hnd_firmware(coap_resource_t *res, coap_session_t *s, const coap_pdu_t *req,
			 const coap_string_t *q, coap_pdu_t *resp)
{
	coap_string_t *path = coap_get_uri_path(req);
	unsigned id = path != NULL && path->length == 5 ? (unsigned)(path->s[4] - '0') : 99;
	coap_pdu_code_t method = coap_pdu_get_code(req);
	const uint8_t *data;
	size_t len, offset, total;
	char text[16];
	uint8_t cfb[4];
	(void)res, (void)s, (void)q;
	coap_delete_string(path);
	if (muted)
		return;
	if (method == COAP_REQUEST_CODE_GET && id == 1) {
		coap_pdu_set_code(resp, COAP_RESPONSE_CODE_CONTENT);
		coap_add_option(resp, COAP_OPTION_CONTENT_FORMAT, coap_encode_var_safe(cfb, sizeof(cfb), 0),
				cfb);
		coap_add_data(resp, strlen(fw_uri), (const uint8_t *)fw_uri);
	} else if (method == COAP_REQUEST_CODE_GET && (id == 3 || id == 5)) {
		snprintf(text, sizeof(text), "%d", id == 3 ? fw_state : fw_result);
		coap_pdu_set_code(resp, COAP_RESPONSE_CODE_CONTENT);
		coap_add_option(resp, COAP_OPTION_CONTENT_FORMAT, coap_encode_var_safe(cfb, sizeof(cfb), 0),
				cfb);
		coap_add_data(resp, strlen(text), (const uint8_t *)text);
	} else if (method == COAP_REQUEST_CODE_PUT && id == 0 &&
		   coap_get_data_large(req, &len, &data, &offset, &total) && offset == 0 &&
		   len == total) {
		fw_received(data, len);
		coap_pdu_set_code(resp, COAP_RESPONSE_CODE_CHANGED);
	} else if (method == COAP_REQUEST_CODE_PUT && id == 1 &&
		   coap_get_data_large(req, &len, &data, &offset, &total) && len == total) {
		char uri[512];
		coap_uri_t u;
		snprintf(uri, sizeof(uri), "%.*s", (int)len, (const char *)data);
		if (coap_split_uri((const uint8_t *)uri, strlen(uri), &u) != 0 || u.path.length == 0 ||
		    u.path.length >= sizeof(fw_path)) {
			coap_pdu_set_code(resp, COAP_RESPONSE_CODE_BAD_REQUEST);
			return;
		}
		snprintf(fw_path, sizeof(fw_path), "%.*s", (int)u.path.length, (const char *)u.path.s);
		if (fw_uri_file != NULL)
			write_private(fw_uri_file, uri);
		snprintf(fw_uri, sizeof(fw_uri), "%s", uri);
		memset(uri, 0, sizeof(uri));
		printf("package uri received\n");
		fw_state = 1;
		fw_result = 0;
		fw_pull_at = now_s() + (double)fw_pull_delay_ms / 1000.0;
		coap_pdu_set_code(resp, COAP_RESPONSE_CODE_CHANGED);
	} else if (method == COAP_REQUEST_CODE_POST && id == 2) {
		if (fw_state != 2) {
			coap_pdu_set_code(resp, COAP_RESPONSE_CODE(405));
			return;
		}
		printf("update started\n");
		fw_state = 3;
		fw_update_at = now_s() + 0.5;
		coap_pdu_set_code(resp, COAP_RESPONSE_CODE_CHANGED);
	} else
		coap_pdu_set_code(resp, COAP_RESPONSE_CODE(405));
}

/* The answer to the firmware download (the body reassembled by libcoap). */
static int fw_on_response(const coap_pdu_t *recv)
{
	coap_bin_const_t tok = coap_pdu_get_token(recv);
	const uint8_t *data;
	size_t len, offset, total;
	int code;
	if (fw_token_len == 0 || tok.length != fw_token_len ||
	    memcmp(tok.s, fw_token, fw_token_len) != 0)
		return 0;
	fw_token_len = 0;
	code = coap_pdu_get_code(recv);
	if (code == COAP_RESPONSE_CODE_CONTENT &&
	    coap_get_data_large(recv, &len, &data, &offset, &total) && offset == 0 && len == total) {
		fw_received(data, len);
	} else {
		printf("firmware download answered %d.%02d\n", code >> 5, code & 31);
		fw_state = 0;
		fw_result = 7; /* Invalid URI: the server would not give the package */
	}
	return 1;
}

static void fw_step(coap_session_t *s)
{
	if (fw_pull_at >= 0 && now_s() >= fw_pull_at) {
		coap_pdu_t *pdu = coap_new_pdu(COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET, s);
		char copy[256], *save = NULL;
		fw_pull_at = -1;
		if (pdu == NULL)
			return;
		coap_session_new_token(s, &fw_token_len, fw_token);
		coap_add_token(pdu, fw_token_len, fw_token);
		snprintf(copy, sizeof(copy), "%s", fw_path);
		for (char *seg = strtok_r(copy, "/", &save); seg; seg = strtok_r(NULL, "/", &save))
			coap_add_option(pdu, COAP_OPTION_URI_PATH, strlen(seg), (const uint8_t *)seg);
		memset(copy, 0, sizeof(copy));
		if (coap_send(s, pdu) == COAP_INVALID_MID)
			fw_token_len = 0;
	}
	if (fw_update_at >= 0 && now_s() >= fw_update_at) {
		fw_update_at = -1;
		fw_state = 0;
		fw_result = (int)fw_final_result;
		printf("update finished, result %d\n", fw_result);
	}
}

static void serve_firmware_object(coap_context_t *c)
{
	static const char *const paths[] = {"5/0/0", "5/0/1", "5/0/2", "5/0/3", "5/0/5"};
	coap_resource_t *r = coap_resource_init(coap_make_str_const("3/0/15"), 0);
	coap_register_handler(r, COAP_REQUEST_GET, hnd_timezone);
	coap_register_handler(r, COAP_REQUEST_PUT, hnd_timezone);
	coap_add_resource(c, r);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		r = coap_resource_init(coap_make_str_const(paths[i]), 0);
		coap_register_handler(r, COAP_REQUEST_GET, hnd_firmware);
		coap_register_handler(r, COAP_REQUEST_PUT, hnd_firmware);
		coap_register_handler(r, COAP_REQUEST_POST, hnd_firmware);
		coap_add_resource(c, r);
	}
}

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		muted = !muted;
	else if (sig == SIGUSR2)
		notify_now = 1;
	else if (sig == SIGHUP)
		send_stale = 1;
	else if (sig == SIGALRM)
		send_foreign = 1;
	else
		stopping = 1;
}

/* ---- handlers of the server's bootstrap requests ---- */

static void hnd_delete(coap_resource_t *res, coap_session_t *s, const coap_pdu_t *req,
		       const coap_string_t *q, coap_pdu_t *resp)
{
	(void)res, (void)s, (void)req, (void)q;
	bs_deletes++;
	coap_pdu_set_code(resp, COAP_RESPONSE_CODE_DELETED);
}

static void hnd_write(coap_resource_t *res, coap_session_t *s, const coap_pdu_t *req,
		      const coap_string_t *q, coap_pdu_t *resp)
{
	coap_string_t *path = coap_get_uri_path(req);
	const uint8_t *data;
	size_t len;
	unsigned obj = 99;
	(void)res, (void)s, (void)q;
	if (path != NULL && path->length >= 1)
		obj = path->s[0] == '0' ? 0 : path->s[0] == '1' ? 1 : 99;
	coap_delete_string(path);
	if (obj == 99 || !coap_get_data(req, &len, &data) || tlv_apply(obj, data, len) != 0) {
		coap_pdu_set_code(resp, COAP_RESPONSE_CODE_BAD_REQUEST);
		return;
	}
	coap_pdu_set_code(resp, COAP_RESPONSE_CODE_CHANGED);
}

static void hnd_finish(coap_resource_t *res, coap_session_t *s, const coap_pdu_t *req,
		       const coap_string_t *q, coap_pdu_t *resp)
{
	(void)res, (void)s, (void)req, (void)q;
	bs_finished = 1;
	coap_pdu_set_code(resp, COAP_RESPONSE_CODE_CHANGED);
}

static coap_response_t on_response(coap_session_t *s, const coap_pdu_t *sent,
				   const coap_pdu_t *recv, const coap_mid_t mid)
{
	coap_bin_const_t tok = coap_pdu_get_token(recv);
	coap_opt_iterator_t it;
	coap_opt_t *opt;
	size_t used = 0;
	(void)s, (void)sent, (void)mid;
	if (fw_on_response(recv))
		return COAP_RESPONSE_OK;
	if (tok.length != token_len || memcmp(tok.s, token, token_len) != 0)
		return COAP_RESPONSE_OK;
	got_code = coap_pdu_get_code(recv);
	coap_option_iterator_init(recv, &it, COAP_OPT_ALL);
	while ((opt = coap_option_next(&it)) != NULL) {
		if (it.number != COAP_OPTION_LOCATION_PATH)
			continue;
		size_t n = coap_opt_length(opt);
		if (used + n + 2 >= sizeof(location))
			break;
		location[used++] = '/';
		memcpy(location + used, coap_opt_value(opt), n);
		used += n;
		location[used] = '\0';
	}
	done = 1;
	return COAP_RESPONSE_OK;
}

static int on_event(coap_session_t *s, const coap_event_t ev)
{
	(void)s;
	if (ev == COAP_EVENT_DTLS_ERROR || ev == COAP_EVENT_DTLS_CLOSED)
		dtls_failed = 1;
	return 0;
}

static void on_nack(coap_session_t *s, const coap_pdu_t *sent, const coap_nack_reason_t r,
		    const coap_mid_t mid)
{
	(void)s, (void)sent, (void)mid;
	if (r == COAP_NACK_RST)
		printf("got RST\n");
	if (r == COAP_NACK_TLS_FAILED || r == COAP_NACK_TOO_MANY_RETRIES)
		dtls_failed = 1;
}

/* ---- plumbing ---- */

static coap_context_t *ctx;
static coap_address_t dst;
static int secure;
static char identity[256];
static uint8_t key[64];
static size_t key_len;
static const char *cert_file, *cert_key_file, *rpk_file;
static char rpk_pem[8192];

static void resolve(const char *uri_text)
{
	coap_uri_t uri;
	char host[128], port[8];
	struct addrinfo hints, *res = NULL;
	if (coap_split_uri((const uint8_t *)uri_text, strlen(uri_text), &uri) != 0 ||
	    uri.host.length >= sizeof(host)) {
		fprintf(stderr, "bad server URI\n");
		exit(2);
	}
	secure = uri.scheme == COAP_URI_SCHEME_COAPS;
	memcpy(host, uri.host.s, uri.host.length);
	host[uri.host.length] = '\0';
	snprintf(port, sizeof(port), "%u", uri.port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_DGRAM;
	if (getaddrinfo(host, port, &hints, &res) != 0 || res == NULL) {
		fprintf(stderr, "cannot resolve the server\n");
		exit(2);
	}
	coap_address_init(&dst);
	dst.size = res->ai_addrlen;
	memcpy(&dst.addr, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
}

static coap_session_t *open_session(void)
{
	coap_dtls_cpsk_t cpsk;
	coap_dtls_pki_t pki;
	if (!secure)
		return coap_new_client_session(ctx, NULL, &dst, COAP_PROTO_UDP);
	if (cert_file != NULL || rpk_file != NULL) {
		memset(&pki, 0, sizeof(pki));
		pki.version = COAP_DTLS_PKI_SETUP_VERSION;
		if (rpk_file != NULL) {
			/* libcoap takes an RPK only from memory */
			pki.is_rpk_not_cert = 1;
			pki.pki_key.key_type = COAP_PKI_KEY_PEM_BUF;
			pki.pki_key.key.pem_buf.public_cert = (const uint8_t *)rpk_pem;
			pki.pki_key.key.pem_buf.public_cert_len = strlen(rpk_pem) + 1;
			pki.pki_key.key.pem_buf.private_key = (const uint8_t *)rpk_pem;
			pki.pki_key.key.pem_buf.private_key_len = strlen(rpk_pem) + 1;
		} else {
			pki.pki_key.key_type = COAP_PKI_KEY_PEM;
			pki.pki_key.key.pem.public_cert = cert_file;
			pki.pki_key.key.pem.private_key = cert_key_file;
		}
		return coap_new_client_session_pki(ctx, NULL, &dst, COAP_PROTO_DTLS, &pki);
	}
	memset(&cpsk, 0, sizeof(cpsk));
	cpsk.version = COAP_DTLS_CPSK_SETUP_VERSION;
	cpsk.psk_info.identity.s = (const uint8_t *)identity;
	cpsk.psk_info.identity.length = strlen(identity);
	cpsk.psk_info.key.s = key;
	cpsk.psk_info.key.length = key_len;
	return coap_new_client_session_psk2(ctx, NULL, &dst, COAP_PROTO_DTLS, &cpsk);
}

static void add_opt(coap_pdu_t *pdu, uint16_t num, const char *text)
{
	coap_add_option(pdu, num, strlen(text), (const uint8_t *)text);
}

/* Sends METHOD PATH (segments separated by '/') with the query parameters
 * QUERY (NULL-terminated) and waits for the answer. */
static int request(coap_session_t *s, coap_pdu_code_t method, const char *path,
		   const char *const *query, const char *payload)
{
	coap_pdu_t *pdu = coap_new_pdu(COAP_MESSAGE_CON, method, s);
	char copy[128], *save = NULL;
	double start = now_s();
	uint8_t cf[4];
	if (pdu == NULL)
		return 3;
	coap_session_new_token(s, &token_len, token);
	coap_add_token(pdu, token_len, token);
	snprintf(copy, sizeof(copy), "%s", path);
	for (char *seg = strtok_r(copy, "/", &save); seg; seg = strtok_r(NULL, "/", &save))
		add_opt(pdu, COAP_OPTION_URI_PATH, seg);
	if (payload != NULL)
		coap_add_option(pdu, COAP_OPTION_CONTENT_FORMAT, coap_encode_var_safe(cf, sizeof(cf), 40),
				cf);
	for (size_t i = 0; query && query[i]; i++)
		add_opt(pdu, COAP_OPTION_URI_QUERY, query[i]);
	if (payload != NULL)
		coap_add_data(pdu, strlen(payload), (const uint8_t *)payload);
	done = 0;
	got_code = -1;
	location[0] = '\0';
	if (coap_send(s, pdu) == COAP_INVALID_MID)
		return 3;
	while (!done && !dtls_failed && (now_s() - start) * 1000 < TIMEOUT_MS)
		coap_io_process(ctx, 100);
	if (!done)
		return 3;
	return (got_code >> 5) == 2 ? 0 : 4;
}

static void print_code(void)
{
	if (got_code < 0)
		printf("no answer\n");
	else
		printf("%d.%02d%s%s\n", got_code >> 5, got_code & 31, location[0] ? " " : "", location);
}

static void write_private(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		fprintf(stderr, "cannot write %s\n", path);
		exit(1);
	}
	close(fd);
}

static int cmd_bootstrap(coap_session_t *s, const char *ep, const char *out)
{
	char q[160], path[512], text[512];
	const char *query[] = {q, NULL};
	coap_resource_t *r;
	double start;
	int rc;

	r = coap_resource_init(coap_make_str_const("0"), 0);
	coap_register_handler(r, COAP_REQUEST_DELETE, hnd_delete);
	coap_add_resource(ctx, r);
	r = coap_resource_init(coap_make_str_const("1"), 0);
	coap_register_handler(r, COAP_REQUEST_DELETE, hnd_delete);
	coap_add_resource(ctx, r);
	r = coap_resource_init(coap_make_str_const("bs"), 0);
	coap_register_handler(r, COAP_REQUEST_POST, hnd_finish);
	coap_add_resource(ctx, r);
	/* PUT /0/1 and /1/0 */
	coap_add_resource(ctx, coap_resource_unknown_init(hnd_write));

	snprintf(q, sizeof(q), "ep=%s", ep);
	rc = request(s, COAP_REQUEST_CODE_POST, "bs", query, NULL);
	print_code();
	if (rc != 0)
		return rc;
	start = now_s();
	while (!bs_finished && !dtls_failed && (now_s() - start) * 1000 < TIMEOUT_MS)
		coap_io_process(ctx, 100);
	/* let the Bootstrap-Finish answer go out */
	coap_io_process(ctx, 200);
	if (!bs_finished) {
		printf("bootstrap not finished\n");
		return 3;
	}
	printf("bootstrap finished: deletes %d, security mode %d, ssid %lld, lifetime %lld, "
	       "binding %s, uri %s, identity %zu chars, key %zu bytes\n",
	       bs_deletes, bs_security_mode, bs_ssid, bs_lifetime, bs_binding, bs_uri,
	       strlen(bs_identity), bs_key_len);
	snprintf(path, sizeof(path), "%s.identity", out);
	write_private(path, bs_identity);
	{
		char hex[2 * sizeof(bs_key) + 2];
		for (size_t i = 0; i < bs_key_len; i++)
			snprintf(hex + 2 * i, 3, "%02X", bs_key[i]);
		hex[2 * bs_key_len] = '\n';
		hex[2 * bs_key_len + 1] = '\0';
		snprintf(path, sizeof(path), "%s.key", out);
		write_private(path, hex);
		memset(hex, 0, sizeof(hex));
	}
	snprintf(text, sizeof(text), "uri %s\nssid %lld\nlifetime %lld\nbinding %s\nmode %d\n", bs_uri,
		 bs_ssid, bs_lifetime, bs_binding, bs_security_mode);
	snprintf(path, sizeof(path), "%s.info", out);
	write_private(path, text);
	if (bs_security_mode == 1 || bs_security_mode == 2) {
		static char hex[2 * sizeof(bs_pub) + 2];
		const uint8_t *bufs[] = {bs_pub, bs_server};
		size_t lens[] = {bs_pub_len, bs_server_len};
		const char *names[] = {"pub", "server"};
		for (int b = 0; b < 2; b++) {
			for (size_t i = 0; i < lens[b]; i++)
				snprintf(hex + 2 * i, 3, "%02x", bufs[b][i]);
			hex[2 * lens[b]] = '\0';
			snprintf(path, sizeof(path), "%s.%s", out, names[b]);
			write_private(path, hex);
		}
	}
	memset(bs_key, 0, sizeof(bs_key));
	return 0;
}

static void serve_device_object(void)
{
	static const char *const paths[] = {"3", "3/0", "3/0/0", "3/0/1", "3/0/2",
					    "3/0/3", "3/0/4", "3/0/9", "3/0/13"};
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		coap_resource_t *r = coap_resource_init(coap_make_str_const(paths[i]), 0);
		coap_register_handler(r, COAP_REQUEST_GET, hnd_device);
		coap_register_handler(r, COAP_REQUEST_PUT, hnd_device);
		coap_register_handler(r, COAP_REQUEST_POST, hnd_device);
		coap_register_handler(r, COAP_REQUEST_DELETE, hnd_device);
		coap_resource_set_get_observable(r, 1);
		coap_add_resource(ctx, r);
		if (strcmp(paths[i], "3/0/9") == 0)
			res_battery = r;
	}
	{
		coap_resource_t *r = coap_resource_init(coap_make_str_const("1/0/9"), 0);
		coap_register_handler(r, COAP_REQUEST_POST, hnd_bootstrap_trigger);
		coap_add_resource(ctx, r);
	}
}

static int cmd_serve(coap_session_t *s, char **args)
{
	char ep[160], lt[32], ver[32], b[16];
	const char *query[] = {ep, lt, ver, b, NULL};
	struct sigaction sa;
	char reg_location[64];
	int rc, was_muted = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	serve_device_object();
	serve_firmware_object(ctx);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	snprintf(ep, sizeof(ep), "ep=%s", args[0]);
	snprintf(lt, sizeof(lt), "lt=%s", args[1]);
	snprintf(ver, sizeof(ver), "lwm2m=%s", args[2]);
	snprintf(b, sizeof(b), "b=%s", args[3]);
	rc = request(s, COAP_REQUEST_CODE_POST, "rd", query, "</1/0>,</3/0>");
	print_code();
	if (rc != 0)
		return rc;
	snprintf(reg_location, sizeof(reg_location), "%s", location);
	/* a muted device processes nothing: requests go unanswered */
	while (!stopping && !dtls_failed && !bootstrap_asked) {
		if (muted) {
			was_muted = 1;
			usleep(100000);
			continue;
		}
		if (was_muted) {
			/* a queue-mode device waking up tells the server first */
			was_muted = 0;
			request(s, COAP_REQUEST_CODE_POST, reg_location, NULL, NULL);
			printf("woke: ");
			print_code();
		}
		if (notify_now) {
			notify_now = 0;
			dev_battery--;
			printf("notify /3/0/9 %lld\n", dev_battery);
			coap_resource_notify_observers(res_battery, NULL);
		}
		if (send_stale || send_foreign) {
			hand_notification(send_stale);
			send_stale = send_foreign = 0;
		}
		coap_io_process(ctx, 100);
		fw_step(s);
	}
	if (bootstrap_asked) /* the 2.04 was sent with the handler's return */
		coap_io_process(ctx, 100);
	return 0;
}

static int cmd_handshakes(long n)
{
	long ok = 0, failed = 0;
	double start = now_s();
	for (long i = 0; i < n; i++) {
		coap_session_t *s;
		double t0 = now_s();
		dtls_failed = 0;
		if ((s = open_session()) == NULL) {
			failed++;
			continue;
		}
		/* the handshake starts with the first message */
		coap_session_send_ping(s);
		/* libcoap 4.3.1 raises no connected event here: poll the state */
		while (coap_session_get_state(s) != COAP_SESSION_STATE_ESTABLISHED && !dtls_failed &&
		       (now_s() - t0) * 1000 < TIMEOUT_MS)
			coap_io_process(ctx, 5);
		if (coap_session_get_state(s) == COAP_SESSION_STATE_ESTABLISHED)
			ok++;
		else
			failed++;
		coap_session_release(s);
		coap_io_process(ctx, COAP_IO_NO_WAIT);
	}
	printf("handshakes %ld ok %ld failed %ld seconds %.3f\n", n, ok, failed, now_s() - start);
	return failed ? 4 : 0;
}

int main(int argc, char **argv)
{
	const char *server = NULL, *id_file = NULL, *key_file = NULL;
	coap_session_t *s = NULL;
	int i = 1, rc;

	for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		if (strcmp(argv[i], "--server") == 0)
			server = argv[i + 1];
		else if (strcmp(argv[i], "--identity-file") == 0)
			id_file = argv[i + 1];
		else if (strcmp(argv[i], "--key-file") == 0)
			key_file = argv[i + 1];
		else if (strcmp(argv[i], "--cert") == 0)
			cert_file = argv[i + 1];
		else if (strcmp(argv[i], "--cert-key") == 0)
			cert_key_file = argv[i + 1];
		else if (strcmp(argv[i], "--rpk") == 0)
			rpk_file = argv[i + 1];
		else if (strcmp(argv[i], "--fw-expect") == 0)
			fw_expect_file = argv[i + 1];
		else if (strcmp(argv[i], "--fw-uri-file") == 0)
			fw_uri_file = argv[i + 1];
		else if (strcmp(argv[i], "--fw-pull-delay") == 0)
			fw_pull_delay_ms = strtol(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--fw-result") == 0)
			fw_final_result = strtol(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--corrupt-flag") == 0)
			corrupt_flag = argv[i + 1];
		else
			die_usage();
	}
	if (server == NULL || i >= argc)
		die_usage();
	coap_startup();
	coap_set_log_level(LOG_EMERG);
	coap_dtls_set_log_level(LOG_EMERG);
	resolve(server);
	if (rpk_file != NULL)
		read_file(rpk_file, rpk_pem, sizeof(rpk_pem));
	if (secure && (cert_file != NULL) != (cert_key_file != NULL))
		die_usage();
	if (secure && cert_file == NULL && rpk_file == NULL) {
		char hex[260];
		if (id_file == NULL || key_file == NULL)
			die_usage();
		read_file(id_file, identity, sizeof(identity));
		read_file(key_file, hex, sizeof(hex));
		key_len = hex_decode(hex, key, sizeof(key));
		memset(hex, 0, sizeof(hex));
		if (key_len == 0) {
			fprintf(stderr, "the key file does not hold hex\n");
			return 2;
		}
	}
	ctx = coap_new_context(NULL);
	coap_context_set_block_mode(ctx, COAP_BLOCK_USE_LIBCOAP | COAP_BLOCK_SINGLE_BODY);
	coap_register_response_handler(ctx, on_response);
	coap_register_event_handler(ctx, on_event);
	coap_register_nack_handler(ctx, on_nack);

	if (strcmp(argv[i], "handshakes") == 0 && i + 1 < argc) {
		rc = cmd_handshakes(strtol(argv[i + 1], NULL, 10));
		goto out;
	}
	if ((s = open_session()) == NULL) {
		fprintf(stderr, "no session\n");
		return 3;
	}
	if (strcmp(argv[i], "bootstrap") == 0 && i + 2 < argc) {
		rc = cmd_bootstrap(s, argv[i + 1], argv[i + 2]);
	} else if (strcmp(argv[i], "register") == 0 && i + 4 < argc) {
		char ep[160], lt[32], ver[32], b[16];
		const char *query[] = {ep, lt, ver, b, NULL};
		snprintf(ep, sizeof(ep), "ep=%s", argv[i + 1]);
		snprintf(lt, sizeof(lt), "lt=%s", argv[i + 2]);
		snprintf(ver, sizeof(ver), "lwm2m=%s", argv[i + 3]);
		snprintf(b, sizeof(b), "b=%s", argv[i + 4]);
		rc = request(s, COAP_REQUEST_CODE_POST, "rd", query,
			     i + 5 < argc ? argv[i + 5] : "</1/0>,</3/0>");
		print_code();
	} else if (strcmp(argv[i], "serve") == 0 && i + 4 < argc) {
		rc = cmd_serve(s, argv + i + 1);
	} else if (strcmp(argv[i], "update") == 0 && i + 1 < argc) {
		char lt[32];
		const char *query[] = {lt, NULL};
		snprintf(lt, sizeof(lt), "lt=%s", i + 2 < argc ? argv[i + 2] : "60");
		rc = request(s, COAP_REQUEST_CODE_POST, argv[i + 1], i + 2 < argc ? query : NULL, NULL);
		print_code();
	} else if (strcmp(argv[i], "deregister") == 0 && i + 1 < argc) {
		rc = request(s, COAP_REQUEST_CODE_DELETE, argv[i + 1], NULL, NULL);
		print_code();
	} else
		die_usage();
	if (rc == 3)
		printf("no answer%s\n", dtls_failed ? " (DTLS handshake failed)" : "");
	coap_session_release(s);
out:
	coap_io_process(ctx, COAP_IO_NO_WAIT);
	memset(key, 0, sizeof(key));
	coap_free_context(ctx);
	coap_cleanup();
	return rc;
}
