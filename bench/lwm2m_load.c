/* bench/lwm2m_load: a load generator for LwM2M registration servers, on
 * libcoap 3 (GnuTLS), used by bench/lwm2m.sh against iotvault and libcoap's
 * coap-rd-gnutls alike. It keeps up to INFLIGHT operations going at once and
 * prints one line of figures; it asserts nothing.
 *
 *   lwm2m_load --server coaps://H:P --mode handshake|register --devices N
 *              --inflight C --creds DIR [--key-hex HEX] [--repeat R] [--hold]
 *     DTLS-PSK: device i (0..N-1) uses identity DIR/i.identity and key
 *     DIR/i.key (hex), or HEX for every device. "handshake": a fresh session
 *     per device, a full handshake (cookie exchange included), closed once
 *     established. "register": a fresh session, handshake, then
 *     POST /rd?ep=<DIR/i.ep>&lt=3600&lwm2m=1.1&b=U with a link-format payload;
 *     done at the 2.01. --repeat R goes over the devices R times (N*R
 *     operations; default 1). --hold keeps every session open until SIGTERM after
 *     printing (to measure the server's memory with live sessions).
 *   lwm2m_load --server coap://H:P --mode nosec --devices N --first F
 *              --prefix P --sockets S
 *     NoSec: registrations of endpoints P<F>..P<F+N-1> from S UDP sockets,
 *     one request in flight per socket.
 *
 * Output: "mode=... devices=N ok=K failed=F seconds=S rate=R/s". */
#include <arpa/inet.h>
#include <coap3/coap.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define OP_TIMEOUT_S 15.0
#define RUN_LIMIT_S 300.0
#define LINKS "</1/0>,</3/0>,</4/0>"

enum mode { M_HANDSHAKE, M_REGISTER, M_NOSEC };

struct slot {
	coap_session_t *s;
	int dev;      /* device being served, -1 when idle */
	double t0;
	int result;   /* 0 running, 1 ok, -1 failed */
};

static enum mode mode;
static const char *creds_dir, *prefix = "urn:bench:";
static uint8_t common_key[64];
static size_t common_key_len;
static int hold, first;
static volatile sig_atomic_t stopping;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static size_t read_text(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	size_t n;
	if (f == NULL) {
		fprintf(stderr, "lwm2m_load: cannot read %s\n", path);
		exit(2);
	}
	n = fread(buf, 1, cap - 1, f);
	fclose(f);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	buf[n] = '\0';
	return n;
}

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = 0;
	for (; hex[0] && hex[1] && n < cap; hex += 2) {
		unsigned v;
		if (sscanf(hex, "%2x", &v) != 1)
			break;
		out[n++] = (uint8_t)v;
	}
	return n;
}

static coap_response_t on_response(coap_session_t *s, const coap_pdu_t *sent,
				   const coap_pdu_t *recv, const coap_mid_t mid)
{
	struct slot *sl = coap_session_get_app_data(s);
	(void)sent, (void)mid;
	if (sl != NULL && sl->dev >= 0 && sl->result == 0)
		sl->result = coap_pdu_get_code(recv) == COAP_RESPONSE_CODE_CREATED ? 1 : -1;
	return COAP_RESPONSE_OK;
}

static void on_nack(coap_session_t *s, const coap_pdu_t *sent, const coap_nack_reason_t r,
		    const coap_mid_t mid)
{
	struct slot *sl = coap_session_get_app_data(s);
	(void)sent, (void)r, (void)mid;
	if (sl != NULL && sl->dev >= 0 && sl->result == 0)
		sl->result = -1;
}

static int on_event(coap_session_t *s, const coap_event_t ev)
{
	struct slot *sl = coap_session_get_app_data(s);
	if (sl != NULL && sl->dev >= 0 && sl->result == 0 &&
	    (ev == COAP_EVENT_DTLS_ERROR || ev == COAP_EVENT_DTLS_CLOSED))
		sl->result = -1;
	return 0;
}

static int send_register(coap_session_t *s, const char *ep)
{
	coap_pdu_t *pdu = coap_new_pdu(COAP_MESSAGE_CON, COAP_REQUEST_CODE_POST, s);
	char q[200];
	uint8_t tok[8], cf[4];
	size_t tok_len;
	if (pdu == NULL)
		return -1;
	coap_session_new_token(s, &tok_len, tok);
	coap_add_token(pdu, tok_len, tok);
	coap_add_option(pdu, COAP_OPTION_URI_PATH, 2, (const uint8_t *)"rd");
	coap_add_option(pdu, COAP_OPTION_CONTENT_FORMAT, coap_encode_var_safe(cf, sizeof(cf), 40), cf);
	snprintf(q, sizeof(q), "ep=%s", ep);
	coap_add_option(pdu, COAP_OPTION_URI_QUERY, strlen(q), (const uint8_t *)q);
	coap_add_option(pdu, COAP_OPTION_URI_QUERY, 7, (const uint8_t *)"lt=3600");
	coap_add_option(pdu, COAP_OPTION_URI_QUERY, 9, (const uint8_t *)"lwm2m=1.1");
	coap_add_option(pdu, COAP_OPTION_URI_QUERY, 3, (const uint8_t *)"b=U");
	coap_add_data(pdu, strlen(LINKS), (const uint8_t *)LINKS);
	return coap_send(s, pdu) == COAP_INVALID_MID ? -1 : 0;
}

/* A fresh DTLS session for device I. */
static coap_session_t *open_dtls(coap_context_t *ctx, const coap_address_t *dst, int i)
{
	char path[1024], identity[256], hex[260];
	uint8_t key[64];
	size_t key_len;
	coap_dtls_cpsk_t cpsk;
	coap_session_t *s;

	snprintf(path, sizeof(path), "%s/%d.identity", creds_dir, i);
	read_text(path, identity, sizeof(identity));
	if (common_key_len > 0) {
		memcpy(key, common_key, common_key_len);
		key_len = common_key_len;
	} else {
		snprintf(path, sizeof(path), "%s/%d.key", creds_dir, i);
		read_text(path, hex, sizeof(hex));
		key_len = unhex(hex, key, sizeof(key));
	}
	memset(&cpsk, 0, sizeof(cpsk));
	cpsk.version = COAP_DTLS_CPSK_SETUP_VERSION;
	cpsk.psk_info.identity.s = (const uint8_t *)identity;
	cpsk.psk_info.identity.length = strlen(identity);
	cpsk.psk_info.key.s = key;
	cpsk.psk_info.key.length = key_len;
	/* libcoap copies identity and key into the session */
	s = coap_new_client_session_psk2(ctx, NULL, dst, COAP_PROTO_DTLS, &cpsk);
	memset(key, 0, sizeof(key));
	return s;
}

static void usage(void)
{
	fprintf(stderr, "usage: lwm2m_load --server URI --mode handshake|register|nosec --devices N "
			"[--inflight C] [--creds DIR] [--key-hex HEX] [--repeat R] [--hold] [--first F] "
			"[--prefix P] [--sockets S]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *server = NULL, *mode_text = NULL;
	int devices = 0, inflight = 16, sockets = 64, repeat = 1, total;
	coap_context_t *ctx;
	coap_address_t dst;
	coap_uri_t uri;
	struct slot *slots;
	int nslots, next = 0, ok = 0, failed = 0, finished = 0;
	double start, elapsed;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--hold") == 0) {
			hold = 1;
			continue;
		}
		if (v == NULL)
			usage();
		if (strcmp(a, "--server") == 0)
			server = v;
		else if (strcmp(a, "--mode") == 0)
			mode_text = v;
		else if (strcmp(a, "--devices") == 0)
			devices = atoi(v);
		else if (strcmp(a, "--inflight") == 0)
			inflight = atoi(v);
		else if (strcmp(a, "--creds") == 0)
			creds_dir = v;
		else if (strcmp(a, "--key-hex") == 0)
			common_key_len = unhex(v, common_key, sizeof(common_key));
		else if (strcmp(a, "--repeat") == 0)
			repeat = atoi(v);
		else if (strcmp(a, "--first") == 0)
			first = atoi(v);
		else if (strcmp(a, "--prefix") == 0)
			prefix = v;
		else if (strcmp(a, "--sockets") == 0)
			sockets = atoi(v);
		else
			usage();
		i++;
	}
	if (server == NULL || mode_text == NULL || devices <= 0 || inflight <= 0 || sockets <= 0 ||
	    repeat <= 0 || repeat > 1000)
		usage();
	total = devices * repeat;
	mode = strcmp(mode_text, "handshake") == 0  ? M_HANDSHAKE
	       : strcmp(mode_text, "register") == 0 ? M_REGISTER
	       : strcmp(mode_text, "nosec") == 0    ? M_NOSEC
						    : (usage(), M_NOSEC);
	if (mode != M_NOSEC && creds_dir == NULL)
		usage();

	coap_startup();
	coap_set_log_level(LOG_EMERG);
	coap_dtls_set_log_level(LOG_EMERG);
	if (coap_split_uri((const uint8_t *)server, strlen(server), &uri) != 0)
		usage();
	{
		char host[64];
		snprintf(host, sizeof(host), "%.*s", (int)uri.host.length, (const char *)uri.host.s);
		coap_address_init(&dst);
		dst.addr.sin.sin_family = AF_INET;
		dst.addr.sin.sin_port = htons(uri.port);
		if (inet_pton(AF_INET, host, &dst.addr.sin.sin_addr) != 1)
			usage();
		dst.size = sizeof(dst.addr.sin);
	}
	ctx = coap_new_context(NULL);
	coap_register_response_handler(ctx, on_response);
	coap_register_nack_handler(ctx, on_nack);
	coap_register_event_handler(ctx, on_event);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);

	nslots = mode == M_NOSEC ? sockets : inflight;
	if ((slots = calloc((size_t)nslots, sizeof(*slots))) == NULL)
		return 1;
	for (int i = 0; i < nslots; i++) {
		slots[i].dev = -1;
		if (mode == M_NOSEC) {
			slots[i].s = coap_new_client_session(ctx, NULL, &dst, COAP_PROTO_UDP);
			if (slots[i].s == NULL)
				return 1;
			coap_session_set_app_data(slots[i].s, &slots[i]);
		}
	}

	start = now_s();
	while (finished < total && !stopping && now_s() - start < RUN_LIMIT_S) {
		for (int i = 0; i < nslots && next < total; i++) {
			struct slot *sl = &slots[i];
			char ep[160];
			if (sl->dev >= 0)
				continue;
			sl->dev = next++ % devices;
			sl->result = 0;
			sl->t0 = now_s();
			if (mode == M_NOSEC) {
				snprintf(ep, sizeof(ep), "%s%d", prefix, first + sl->dev);
				if (send_register(sl->s, ep) != 0)
					sl->result = -1;
				continue;
			}
			if ((sl->s = open_dtls(ctx, &dst, sl->dev)) == NULL) {
				sl->result = -1;
				continue;
			}
			coap_session_set_app_data(sl->s, sl);
			if (mode == M_HANDSHAKE)
				coap_session_send_ping(sl->s); /* the handshake starts with it */
			else {
				char path[1024];
				snprintf(path, sizeof(path), "%s/%d.ep", creds_dir, sl->dev);
				read_text(path, ep, sizeof(ep));
				if (send_register(sl->s, ep) != 0)
					sl->result = -1;
			}
		}
		coap_io_process(ctx, 5);
		for (int i = 0; i < nslots; i++) {
			struct slot *sl = &slots[i];
			if (sl->dev < 0)
				continue;
			/* libcoap 4.3.1 raises no connected event for clients: poll */
			if (mode == M_HANDSHAKE && sl->result == 0 &&
			    coap_session_get_state(sl->s) == COAP_SESSION_STATE_ESTABLISHED)
				sl->result = 1;
			if (sl->result == 0 && now_s() - sl->t0 > OP_TIMEOUT_S)
				sl->result = -1;
			if (sl->result == 0)
				continue;
			if (sl->result > 0)
				ok++;
			else
				failed++;
			finished++;
			if (mode != M_NOSEC && sl->s != NULL) {
				coap_session_set_app_data(sl->s, NULL);
				if (!hold)
					coap_session_release(sl->s);
				/* a held session stays in the context (sessions are
				 * reference counted; the context frees it at the end) */
				sl->s = NULL;
			}
			sl->dev = -1;
		}
	}
	elapsed = now_s() - start;
	printf("mode=%s devices=%d ops=%d inflight=%d ok=%d failed=%d seconds=%.2f rate=%.0f/s\n",
	       mode_text, devices, total, mode == M_NOSEC ? sockets : inflight, ok, failed, elapsed,
	       elapsed > 0 ? ok / elapsed : 0.0);
	fflush(stdout);
	if (hold) {
		printf("holding\n");
		fflush(stdout);
		while (!stopping)
			coap_io_process(ctx, 200);
	}
	coap_free_context(ctx);
	free(slots);
	coap_cleanup();
	return failed > 0 ? 4 : 0;
}
