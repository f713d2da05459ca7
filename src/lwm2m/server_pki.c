/* RPK and X.509 on the LwM2M server's DTLS listeners, beside PSK.
 *
 * libcoap 4.3.1 (GnuTLS) gives every server session both the PSK
 * credentials and the certificate credentials of its context, so one
 * context and one listener serve PSK, RPK and X.509 peers at once; what a
 * peer uses is negotiated per handshake. The server's own credential is one
 * X.509 certificate and key ([lwm2m] certificate/private_key, by default
 * the HTTPS ones). libcoap takes one kind per context (is_rpk_not_cert is a
 * context flag), and an RPK peer that wants the server's raw public key
 * (LwM2M Security Mode 1; coap-client -M refuses a certificate) cannot be
 * served by the certificate context: the optional RPK listeners are a
 * second context that shows the same key as an RPK.
 *
 * Who a peer is gets decided in libcoap's validate_cn_call_back, inside
 * the handshake: a raw public key must be one stored with a device (SHA-256
 * lookup, then a constant-time compare of the whole SubjectPublicKeyInfo);
 * a certificate must name a device's endpoint (CN or SAN) and its chain
 * must verify against that device's tenant's CA, and that CA alone.
 * Anything else fails the handshake and records a security event.
 *
 * libcoap also runs its own chain check first, against the trust given to
 * the context: that is the union of every tenant's CA, refreshed when they
 * change, so it lets through exactly the chains some tenant could accept;
 * expiry is left to the check here so that it is recorded. */
#include "lwm2m/lwm2m_internal.h"
#include "iotvault/config.h"
#include "iotvault/hex.h"
#include "iotvault/log.h"
#include "iotvault/lwm2m_pki.h"
#include "iotvault/store_lorawan.h"

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SERVER_CERT_MAX 16384
#define SERVER_KEY_MAX 16384
/* chains are verified to this depth (leaf + intermediates + CA) */
#define VERIFY_DEPTH 4

struct lwm2m_pki_server {
	coap_dtls_pki_t setup;
	coap_dtls_pki_t setup_rpk; /* the RPK listeners' context */
	char *spki_pem;            /* the server's key as PEM "PUBLIC KEY", NUL-terminated */
	char *cert_pem;          /* NUL-terminated; length includes the NUL */
	size_t cert_pem_len;
	struct secbuf *key_pem;  /* the server's private key, NUL-terminated */
	size_t key_pem_len;
	uint8_t cert_der[SERVER_CERT_MAX];
	size_t cert_der_len;
	uint8_t spki[LWM2M_SPKI_MAX];
	size_t spki_len;
	char *trust;             /* every tenant's CA, PEM, NUL-terminated */
	size_t trust_len;
	/* trust buffers a context may still point at after a failed reload
	 * (libcoap keeps the pointer, not a copy): freed at stop */
	char **stale;
	size_t stale_n;
};

static atomic_uint trust_generation;
/* the running server, for the libcoap log hook (one per process) */
static struct lwm2m_server *the_server;
static unsigned trust_seen;

void lwm2m_pki_trust_changed(void)
{
	atomic_fetch_add(&trust_generation, 1);
}

/* Reads PATH (relative to the data directory) into a NUL-terminated buffer
 * of at most MAX bytes: secure memory when SECRET. */
static int read_file(const struct config *cfg, const char *path, size_t max, int secret,
		     void **out, size_t *len)
{
	char *full = config_path(cfg, path);
	FILE *f = NULL;
	uint8_t *buf = NULL;
	struct secbuf *sb = NULL;
	size_t n;
	int r = IV_ERR_CONFIG;

	if (full == NULL)
		return IV_ERR_NOMEM;
	if ((f = fopen(full, "rb")) == NULL) {
		log_error("lwm2m: cannot read %s", full);
		goto out;
	}
	if (secret) {
		if ((sb = secbuf_new(max + 1)) == NULL) {
			r = IV_ERR_NOMEM;
			goto out;
		}
		buf = sb->data;
	} else if ((buf = malloc(max + 1)) == NULL) {
		r = IV_ERR_NOMEM;
		goto out;
	}
	n = fread(buf, 1, max + 1, f);
	if (n == 0 || n > max) {
		log_error("lwm2m: %s is empty or larger than %zu bytes", full, max);
		goto out;
	}
	buf[n] = '\0';
	*len = n + 1;
	*out = secret ? (void *)sb : (void *)buf;
	sb = NULL;
	buf = NULL;
	/* success */
	r = 0;
out:
	if (f != NULL)
		fclose(f);
	secbuf_free(sb);
	if (!secret)
		free(buf);
	free(full);
	return r;
}

/* The DER certificate and SPKI of the server's PEM certificate (first in the file). */
static int server_public(struct lwm2m_pki_server *p)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_pubkey_t key = NULL;
	gnutls_datum_t in = {(unsigned char *)p->cert_pem, (unsigned)(p->cert_pem_len - 1)};
	size_t sz;
	int r = IV_ERR_CONFIG;

	if (gnutls_x509_crt_init(&crt) < 0 || gnutls_pubkey_init(&key) < 0)
		goto out;
	if (gnutls_x509_crt_import(crt, &in, GNUTLS_X509_FMT_PEM) < 0)
		goto out;
	sz = sizeof(p->cert_der);
	if (gnutls_x509_crt_export(crt, GNUTLS_X509_FMT_DER, p->cert_der, &sz) < 0)
		goto out;
	p->cert_der_len = sz;
	sz = sizeof(p->spki);
	if (gnutls_pubkey_import_x509(key, crt, 0) < 0 ||
	    gnutls_pubkey_export(key, GNUTLS_X509_FMT_DER, p->spki, &sz) < 0)
		goto out;
	p->spki_len = sz;
	/* success */
	r = 0;
out:
	if (key != NULL)
		gnutls_pubkey_deinit(key);
	if (crt != NULL)
		gnutls_x509_crt_deinit(crt);
	return r;
}

static void security_event(struct lwm2m_server *srv, int64_t tenant_id, const char *kind,
			   struct lwm2m_session *ls, const char *subject, const char *detail)
{
	log_warning("lwm2m: %s handshake from %s refused: %s (%s)",
		    ls->listener == LW_LISTENER_BOOTSTRAP ? "bootstrap" : "DM", ls->address, detail,
		    subject);
	lwm2m_security_event(srv, tenant_id, kind, ls->address, subject, detail);
}

/* The device whose stored raw public key is SPKI. Under the service lock. */
static int rpk_device(struct lwm2m_server *srv, struct lwm2m_session *ls, const uint8_t *spki,
		      size_t len, struct device_record *dev, uint8_t key_sha256[static 32])
{
	struct store *st = srv->svc->st;
	struct lwm2m_device_security_record *sec = NULL;
	struct device_selector sel = {0};
	uint8_t h[32];
	char shown[80], hexh[65];
	int r;

	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, spki, len, h) != 0)
		return IV_ERR_CRYPTO;
	hex_encode_upper(h, 8, hexh);
	snprintf(shown, sizeof(shown), "raw public key SHA-256 %.16s...", hexh);
	if ((sec = malloc(sizeof(*sec))) == NULL)
		return IV_ERR_NOMEM;
	r = st->ops->lwm2m_pki->security_get_by_spki_sha256(st, h, sec);
	if (r == 0 && (sec->spki_len != len || sodium_memcmp(sec->spki_sha256, h, sizeof(h)) != 0 ||
		       sodium_memcmp(sec->spki, spki, len) != 0))
		r = IV_ERR_NOT_FOUND;
	if (r == 0) {
		sel.id = sec->device_id;
		r = st->ops->device_get(st, sec->tenant_id, &sel, dev);
	}
	if (r == IV_ERR_NOT_FOUND)
		security_event(srv, 0, LWM2M_EVENT_UNKNOWN_IDENTITY, ls, shown,
			       "raw public key not stored with any device");
	if (r == 0)
		memcpy(key_sha256, h, sizeof(h));
	free(sec);
	return r;
}

/* The device a certificate chain names, if the chain verifies against that
 * device's tenant's CA. Under the service lock. */
static int x509_device(struct lwm2m_server *srv, struct lwm2m_session *ls, const uint8_t *der,
		       size_t len, struct device_record *dev, char ca_sha256[static 65],
		       int64_t *not_after_ms)
{
	struct store *st = srv->svc->st;
	struct lwm2m_tenant_ca_record *ca = NULL;
	gnutls_session_t g = NULL;
	coap_tls_library_t lib = COAP_TLS_LIBRARY_NOTLS;
	const gnutls_datum_t *chain;
	char names[LWM2M_CERT_NAMES_MAX][256], shown[80];
	const char *why = NULL;
	unsigned n = 0;
	size_t nnames;
	int r = IV_ERR_NOT_FOUND;

	nnames = lwm2m_pki_cert_names(der, len, names, LWM2M_CERT_NAMES_MAX);
	snprintf(shown, sizeof(shown), "%.64s", nnames > 0 ? names[0] : "(no name)");
	for (size_t i = 0; i < nnames && r == IV_ERR_NOT_FOUND; i++)
		if (lwm2m_ident_ok(names[i], strlen(names[i]), STORE_NAME_MAX)) {
			r = st->ops->lwm2m->device_by_endpoint(st, names[i], dev);
			if (r == 0)
				snprintf(shown, sizeof(shown), "%.64s", names[i]);
		}
	if (r == IV_ERR_NOT_FOUND) {
		security_event(srv, 0, LWM2M_EVENT_UNKNOWN_IDENTITY, ls, shown,
			       "certificate names no device's endpoint");
		return r;
	}
	if (r != 0)
		return r;
	if ((ca = malloc(sizeof(*ca))) == NULL)
		return IV_ERR_NOMEM;
	if ((r = st->ops->lwm2m_pki->ca_get(st, dev->tenant_id, ca)) == IV_ERR_NOT_FOUND) {
		why = "the device's tenant has no LwM2M device CA";
		r = IV_ERR_FORBIDDEN;
	} else if (r == 0) {
		g = coap_session_get_tls(ls->session, &lib);
		chain = lib == COAP_TLS_LIBRARY_GNUTLS && g != NULL ? gnutls_certificate_get_peers(g, &n)
								      : NULL;
		r = lwm2m_pki_verify_chain(chain, chain != NULL ? n : 0, ca->certificate_pem, &why);
	}
	if (r == 0 && (*not_after_ms = lwm2m_pki_cert_not_after_ms(der, len)) <= 0) {
		why = "certificate cannot be parsed";
		r = IV_ERR_FORBIDDEN;
	}
	if (r == 0)
		memcpy(ca_sha256, ca->sha256, 65);
	if (r == IV_ERR_FORBIDDEN)
		security_event(srv, dev->tenant_id, LWM2M_EVENT_CERTIFICATE_REFUSED, ls, shown, why);
	free(ca);
	return r;
}

/* libcoap's validate_cn_call_back, called by GnuTLS's certificate check
 * inside the handshake for the peer's leaf certificate or raw public key
 * (DER; an SPKI for RPK). Returning 0 fails the handshake. */
static int validate_peer(const char *cn, const uint8_t *der, size_t len, coap_session_t *session,
			 unsigned depth, int validated, void *arg)
{
	struct lwm2m_server *srv = arg;
	struct lwm2m_session *ls = lwm2m_session_of(srv, session);
	coap_tls_library_t lib = COAP_TLS_LIBRARY_NOTLS;
	gnutls_session_t g = coap_session_get_tls(session, &lib);
	struct device_record dev;
	struct lwm2m_device_security_record *sec = NULL;
	const char *why;
	enum lwm2m_auth auth;
	uint8_t key_sha256[32] = {0};
	char ca_sha256[65] = "";
	int64_t not_after_ms = 0;
	int r;
	(void)cn;
	(void)validated; /* libcoap's check; the one here is against the tenant's CA */

	if (ls == NULL || g == NULL || lib != COAP_TLS_LIBRARY_GNUTLS)
		return 0;
	if (ls->listener != LW_LISTENER_DM && ls->listener != LW_LISTENER_BOOTSTRAP)
		return 0;
	if (depth != 0)
		return 1; /* the leaf decides; GnuTLS's backend only asks for it */
	/* whatever a previous handshake of this session proved counts no more,
	 * and what was on its way for that peer is never answered by this one */
	lwm2m_session_peer_gone(srv, ls);
	if ((why = lwm2m_dtls_version_violation(session)) != NULL) {
		service_lock(srv->svc);
		security_event(srv, 0, LWM2M_EVENT_HANDSHAKE_POLICY, ls, "certificate", why);
		service_unlock(srv->svc);
		return 0;
	}
	switch (gnutls_certificate_type_get2(g, GNUTLS_CTYPE_PEERS)) {
	case GNUTLS_CRT_RAW: auth = LW_AUTH_RPK; break;
	case GNUTLS_CRT_X509: auth = LW_AUTH_X509; break;
	default: return 0;
	}
	service_lock(srv->svc);
	r = auth == LW_AUTH_RPK ? rpk_device(srv, ls, der, len, &dev, key_sha256)
				: x509_device(srv, ls, der, len, &dev, ca_sha256, &not_after_ms);
	if (r == 0 && strcmp(dev.kind, "lwm2m") != 0) {
		security_event(srv, dev.tenant_id, LWM2M_EVENT_UNKNOWN_IDENTITY, ls, dev.endpoint,
			       "not an LwM2M device");
		r = IV_ERR_NOT_FOUND;
	}
	/* the device's security mode now, compared again on every use */
	if (r == 0 && (sec = malloc(sizeof(*sec))) == NULL)
		r = IV_ERR_NOMEM;
	if (r == 0) {
		r = srv->svc->st->ops->lwm2m_pki->security_get(srv->svc->st, dev.id, sec);
		if (r == IV_ERR_NOT_FOUND)
			snprintf(sec->mode, sizeof(sec->mode), "psk");
		if (r == IV_ERR_NOT_FOUND)
			r = 0;
	}
	service_unlock(srv->svc);
	if (r != 0) {
		if (r != IV_ERR_NOT_FOUND && r != IV_ERR_FORBIDDEN)
			log_error("lwm2m: certificate lookup failed: %s", iv_error_message(r));
		free(sec);
		return 0;
	}
	/* only claimed until the handshake completes: GnuTLS asks before the
	 * peer's CertificateVerify proves it holds the key (server.c) */
	snprintf(ls->pki_mode, sizeof(ls->pki_mode), "%s", sec->mode);
	free(sec);
	memcpy(ls->pki_key_sha256, key_sha256, sizeof(key_sha256));
	memcpy(ls->pki_ca_sha256, ca_sha256, sizeof(ca_sha256));
	ls->pki_not_after_ms = not_after_ms;
	ls->owner.kind = ls->listener == LW_LISTENER_BOOTSTRAP ? LWM2M_CREDENTIAL_BOOTSTRAP
							      : LWM2M_CREDENTIAL_DM;
	ls->owner.tenant_id = dev.tenant_id;
	ls->owner.device_id = dev.id;
	snprintf(ls->owner.endpoint, sizeof(ls->owner.endpoint), "%s", dev.endpoint);
	snprintf(ls->identity, sizeof(ls->identity), "%s", dev.endpoint);
	ls->auth = auth;
	ls->pending = 1;
	log_debug("lwm2m: %s handshake from %s: %s of device %lld",
		  ls->listener == LW_LISTENER_BOOTSTRAP ? "bootstrap" : "DM", ls->address,
		  auth == LW_AUTH_RPK ? "raw public key" : "certificate", (long long)dev.id);
	return 1;
}

int lwm2m_pki_session_current(struct lwm2m_server *srv, struct lwm2m_session *ls)
{
	struct store *st = srv->svc->st;
	struct lwm2m_device_security_record *sec = NULL;
	struct lwm2m_tenant_ca_record *ca = NULL;
	const char *why = NULL;
	int r;

	if (ls->listener == LW_LISTENER_NOSEC || ls->auth == LW_AUTH_PSK || !ls->authenticated)
		return 1;
	if ((sec = malloc(sizeof(*sec))) == NULL || (ca = malloc(sizeof(*ca))) == NULL) {
		why = "out of memory";
		goto out;
	}
	r = st->ops->lwm2m_pki->security_get(st, ls->owner.device_id, sec);
	if (r == IV_ERR_NOT_FOUND) {
		snprintf(sec->mode, sizeof(sec->mode), "psk");
		r = 0;
	}
	if (r != 0) {
		why = "the device's security mode cannot be read";
		goto out;
	}
	if (strcmp(sec->mode, ls->pki_mode) != 0) {
		why = "the device's DM security mode changed";
		goto out;
	}
	if (ls->auth == LW_AUTH_RPK) {
		if (sodium_memcmp(sec->spki_sha256, ls->pki_key_sha256, 32) != 0)
			why = "the device's raw public key changed";
		goto out;
	}
	r = st->ops->lwm2m_pki->ca_get(st, ls->owner.tenant_id, ca);
	if (r == IV_ERR_NOT_FOUND)
		why = "the tenant's LwM2M device CA was removed";
	else if (r != 0)
		why = "the tenant's LwM2M device CA cannot be read";
	else if (strcmp(ca->sha256, ls->pki_ca_sha256) != 0)
		why = "the tenant's LwM2M device CA changed";
	else if (store_now_ms() > ls->pki_not_after_ms)
		why = "certificate outside its validity period";
out:
	if (why != NULL) {
		log_warning("lwm2m: DTLS session from %s (device %lld) no longer used: %s",
			    ls->address, (long long)ls->owner.device_id, why);
		lwm2m_security_event(srv, ls->owner.tenant_id, LWM2M_EVENT_SESSION_REVOKED,
				     ls->address, ls->identity, why);
		/* unusable from here on; a new handshake is checked afresh */
		ls->authenticated = 0;
		ls->revoked = 1;
	}
	free(sec);
	free(ca);
	return why == NULL;
}

/* Refusals seen in libcoap's log, waiting to be recorded (server thread
 * only; a full queue drops the newest, the log line stays). */
#define REFUSALS_MAX 16
static struct {
	char address[LWM2M_ADDRESS_MAX + 1];
	char subject[80];
} refusals[REFUSALS_MAX];
static size_t refusals_n;

/* The address token ending just before POS in LINE ("...  host:port <-> ..."). */
static void token_before(const char *line, const char *pos, char *out, size_t cap)
{
	const char *b = pos;
	while (b > line && b[-1] != ' ' && b[-1] != '*')
		b--;
	snprintf(out, cap, "%.*s", (int)(pos - b), b);
}

static uint16_t port_of(const char *addr)
{
	const char *c = strrchr(addr, ':');
	long v = c != NULL ? strtol(c + 1, NULL, 10) : 0;
	return v > 0 && v < 65536 ? (uint16_t)v : 0;
}

void lwm2m_pki_libcoap_message(const char *line)
{
	/* libcoap 4.3.1, coap_gnutls.c cert_verify_gnutls():
	 * "<local> <-> <remote> (ifN) DTLS: The peer certificate's CA is unknown: '<name>'" */
	static const char tag[] = " DTLS: The peer certificate's CA is unknown: '";
	const char *t = strstr(line, tag), *arrow = strstr(line, " <-> "), *end, *name;
	char a[LWM2M_ADDRESS_MAX + 1], b[LWM2M_ADDRESS_MAX + 1], *paren;
	size_t i = 0;

	if (t == NULL || arrow == NULL || arrow > t || refusals_n == REFUSALS_MAX)
		return;
	token_before(line, arrow, a, sizeof(a));
	snprintf(b, sizeof(b), "%.*s", (int)(t - arrow - 5), arrow + 5);
	if ((paren = strchr(b, ' ')) != NULL)
		*paren = '\0';
	name = t + sizeof(tag) - 1;
	end = strchr(name, '\'');
	/* which side is the peer: the one that is not one of our listeners;
	 * both are kept when that cannot be told */
	{
		struct lwm2m_server *srv = the_server;
		uint16_t pa = port_of(a);
		int a_ours = srv != NULL && pa != 0 &&
			     (pa == srv->dm_port || pa == srv->bootstrap_port ||
			      pa == srv->rpk_dm_port || pa == srv->rpk_bootstrap_port);
		snprintf(refusals[refusals_n].address, sizeof(refusals[0].address), "%s",
			 a_ours ? b : a);
	}
	for (const char *c = name; end != NULL && c < end && i < 64; c++)
		refusals[refusals_n].subject[i++] = *c >= 0x20 && *c < 0x7f ? *c : '?';
	refusals[refusals_n].subject[i] = '\0';
	refusals_n++;
}

void lwm2m_pki_record_refusals(struct lwm2m_server *srv)
{
	if (refusals_n == 0)
		return;
	service_lock(srv->svc);
	for (size_t i = 0; i < refusals_n; i++)
		lwm2m_security_event(srv, 0, LWM2M_EVENT_CERTIFICATE_REFUSED, refusals[i].address,
				     refusals[i].subject,
				     "certificate chain not issued by any tenant's LwM2M device CA");
	service_unlock(srv->svc);
	refusals_n = 0;
}

struct trust_acc {
	char *buf;
	size_t len, cap;
	int failed;
};

static int add_ca(void *ctx, const struct lwm2m_tenant_ca_record *ca)
{
	struct trust_acc *a = ctx;
	size_t n = strlen(ca->certificate_pem);
	if (a->len + n + 2 > a->cap) {
		size_t cap = (a->len + n + 2) * 2;
		char *nb = realloc(a->buf, cap);
		if (nb == NULL) {
			a->failed = 1;
			return IV_ERR_NOMEM;
		}
		a->buf = nb;
		a->cap = cap;
	}
	memcpy(a->buf + a->len, ca->certificate_pem, n);
	a->len += n;
	a->buf[a->len++] = '\n';
	a->buf[a->len] = '\0';
	return 0;
}

/* Hands libcoap the current set-up; new sessions pick it up (libcoap builds
 * each session's GnuTLS credentials from it). */
static int apply(struct lwm2m_server *srv)
{
	struct lwm2m_pki_server *p = srv->pki;
	coap_pki_key_pem_buf_t *k = &p->setup.pki_key.key.pem_buf;
	k->ca_cert = p->trust_len > 1 ? (const uint8_t *)p->trust : NULL;
	k->ca_cert_len = p->trust_len > 1 ? p->trust_len : 0;
	p->setup_rpk.pki_key.key.pem_buf.ca_cert = k->ca_cert;
	p->setup_rpk.pki_key.key.pem_buf.ca_cert_len = k->ca_cert_len;
	if (!coap_context_set_pki(srv->ctx, &p->setup) ||
	    (srv->ctx_rpk != NULL && !coap_context_set_pki(srv->ctx_rpk, &p->setup_rpk))) {
		log_error("lwm2m: cannot set up DTLS certificates");
		return IV_ERR_CRYPTO;
	}
	return 0;
}

void lwm2m_pki_server_refresh(struct lwm2m_server *srv)
{
	struct lwm2m_pki_server *p = srv->pki;
	struct trust_acc acc = {NULL, 0, 0, 0};
	struct store *st = srv->svc->st;
	unsigned gen = atomic_load(&trust_generation);
	int r;

	if (p == NULL)
		return;
	service_lock(srv->svc);
	r = st->ops->lwm2m_pki->ca_list(st, add_ca, &acc);
	service_unlock(srv->svc);
	trust_seen = gen;
	if (r != 0) {
		log_error("lwm2m: tenant CAs cannot be read: %s", iv_error_message(r));
		free(acc.buf);
		return;
	}
	if (acc.len + (acc.buf ? 1 : 0) == p->trust_len &&
	    (acc.len == 0 || memcmp(acc.buf, p->trust, acc.len) == 0)) { /* lint:not-secret */
		free(acc.buf);
		return;
	}
	{
		/* libcoap keeps pointing at the old buffer until the new one is set */
		char *old = p->trust;
		size_t old_len = p->trust_len;
		p->trust = acc.buf;
		p->trust_len = acc.buf ? acc.len + 1 : 0;
		if (apply(srv) != 0) {
			/* one context may hold the new buffer already (the first
			 * set-up worked, the second did not): point both back at the
			 * old one; if even that fails, the new one stays allocated */
			p->trust = old;
			p->trust_len = old_len;
			if (apply(srv) == 0) {
				free(acc.buf);
			} else {
				char **st2 = realloc(p->stale, (p->stale_n + 1) * sizeof(*st2));
				if (st2 != NULL) {
					p->stale = st2;
					p->stale[p->stale_n++] = acc.buf;
				} /* else: leaked rather than freed under libcoap */
			}
			return;
		}
		free(old);
	}
	log_info("lwm2m: tenant CAs reloaded");
}

/* Called every loop turn: a change made through this process is picked up
 * at once, one made by another (the CLI) at the next sweep. */
void lwm2m_pki_server_poll(struct lwm2m_server *srv)
{
	if (srv->pki != NULL && atomic_load(&trust_generation) != trust_seen)
		lwm2m_pki_server_refresh(srv);
}

int lwm2m_pki_server_start(struct lwm2m_server *srv)
{
	const struct config *cfg = &srv->svc->cfg;
	struct lwm2m_pki_server *p = NULL;
	const char *cert = cfg->lwm2m_certificate[0] ? cfg->lwm2m_certificate : cfg->tls_certificate;
	const char *key = cfg->lwm2m_private_key[0] ? cfg->lwm2m_private_key : cfg->tls_private_key;
	void *buf = NULL;
	int r;

	if (strcmp(cfg->lwm2m_certificate, "off") == 0)
		return 0;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return IV_ERR_NOMEM;
	if ((r = read_file(cfg, cert, SERVER_CERT_MAX, 0, &buf, &p->cert_pem_len)) != 0)
		goto out;
	p->cert_pem = buf;
	if ((r = read_file(cfg, key, SERVER_KEY_MAX, 1, &buf, &p->key_pem_len)) != 0)
		goto out;
	p->key_pem = buf;
	if ((r = server_public(p)) != 0) {
		log_error("[lwm2m] certificate: not a PEM X.509 certificate");
		goto out;
	}
	memset(&p->setup, 0, sizeof(p->setup));
	p->setup.version = COAP_DTLS_PKI_SETUP_VERSION;
	/* a client certificate or raw public key is required: without one the
	 * peer has to use PSK */
	p->setup.verify_peer_cert = 1;
	p->setup.check_common_ca = 0;
	p->setup.allow_self_signed = 1; /* decided in validate_peer, against the tenant CA */
	p->setup.allow_expired_certs = 1; /* idem, so that it is recorded */
	p->setup.cert_chain_validation = 1;
	p->setup.cert_chain_verify_depth = VERIFY_DEPTH;
	p->setup.check_cert_revocation = 0;
	p->setup.allow_no_crl = 1;
	p->setup.allow_expired_crl = 0;
	p->setup.allow_bad_md_hash = 0;
	p->setup.allow_short_rsa_length = 0;
	p->setup.is_rpk_not_cert = 0;
	p->setup.validate_cn_call_back = validate_peer;
	p->setup.cn_call_back_arg = srv;
	p->setup.pki_key.key_type = COAP_PKI_KEY_PEM_BUF;
	p->setup.pki_key.key.pem_buf.public_cert = (const uint8_t *)p->cert_pem;
	p->setup.pki_key.key.pem_buf.public_cert_len = p->cert_pem_len;
	p->setup.pki_key.key.pem_buf.private_key = p->key_pem->data;
	p->setup.pki_key.key.pem_buf.private_key_len = p->key_pem_len;
	{
		gnutls_datum_t der = {p->spki, (unsigned)p->spki_len}, pem = {NULL, 0};
		if (gnutls_pem_base64_encode2("PUBLIC KEY", &der, &pem) < 0 ||
		    (p->spki_pem = calloc(1, pem.size + 1)) == NULL) {
			gnutls_free(pem.data);
			r = IV_ERR_NOMEM;
			goto out;
		}
		memcpy(p->spki_pem, pem.data, pem.size);
		gnutls_free(pem.data);
	}
	p->setup_rpk = p->setup;
	p->setup_rpk.is_rpk_not_cert = 1;
	p->setup_rpk.pki_key.key.pem_buf.public_cert = (const uint8_t *)p->spki_pem;
	p->setup_rpk.pki_key.key.pem_buf.public_cert_len = strlen(p->spki_pem) + 1;
	srv->pki = p;
	p = NULL;
	the_server = srv;
	lwm2m_pki_server_refresh(srv);
	if (srv->pki->trust == NULL && (r = apply(srv)) != 0)
		goto out;
	/* success */
	r = 0;
out:
	if (p != NULL) {
		free(p->spki_pem);
		free(p->cert_pem);
		secbuf_free(p->key_pem);
		free(p->trust);
		free(p);
	}
	return r;
}

void lwm2m_pki_server_stop(struct lwm2m_server *srv)
{
	if (the_server == srv)
		the_server = NULL;
	refusals_n = 0;
	if (srv->pki == NULL)
		return;
	free(srv->pki->spki_pem);
	free(srv->pki->cert_pem);
	secbuf_free(srv->pki->key_pem);
	free(srv->pki->trust);
	for (size_t i = 0; i < srv->pki->stale_n; i++)
		free(srv->pki->stale[i]);
	free(srv->pki->stale);
	free(srv->pki);
	srv->pki = NULL;
}

int lwm2m_pki_server_public(const struct lwm2m_server *srv, int spki_only, const uint8_t **data,
			    size_t *len)
{
	if (srv->pki == NULL)
		return IV_ERR_NOT_FOUND;
	*data = spki_only ? srv->pki->spki : srv->pki->cert_der;
	*len = spki_only ? srv->pki->spki_len : srv->pki->cert_der_len;
	return 0;
}
