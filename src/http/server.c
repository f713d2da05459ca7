/* The HTTPS listener: libmicrohttpd on GnuTLS with iotvault's TLS policy,
 * explicit limits (body, headers, connections per source, request time),
 * security headers on every response, authentication and role checks before
 * any handler runs, and certificate reload without restart. */
#include "iotvault/auth.h"
#include "iotvault/hex.h"
#include "iotvault/http.h"
#include "iotvault/joinserver.h"
#include "iotvault/log.h"
#include "iotvault/secmem.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

const char http_tls_priorities[] =
	"NONE:+VERS-TLS1.3:+VERS-TLS1.2:+ECDHE-ECDSA:+ECDHE-RSA:+AES-256-GCM:+CHACHA20-POLY1305:"
	"+AES-128-GCM:+AEAD:+SIGN-ALL:-SIGN-RSA-SHA1:-SIGN-ECDSA-SHA1:+GROUP-X25519:"
	"+GROUP-SECP256R1:+GROUP-SECP384R1:+COMP-NULL:%SERVER_PRECEDENCE";

#define CSP "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
#define HSTS "max-age=63072000; includeSubDomains"
#define MAX_CERT_CHAIN 8
#define MAX_TLS_FILE (256 * 1024)
#define SOURCE_SLOTS 1024

/* ---- TLS credentials, swapped on reload ---- */

struct tls_generation {
	gnutls_pcert_st pcerts[MAX_CERT_CHAIN];
	unsigned int npcerts;
	gnutls_privkey_t key;
	struct tls_generation *older; /* kept until stop: handshakes may still use it */
};

/* gnutls' certificate callback has no user pointer: one API listener per process */
static pthread_rwlock_t tls_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct tls_generation *tls_current;

struct source_count {
	char addr[HTTP_SOURCE_MAX];
	int count;
};

struct http_server {
	struct service *svc;
	struct MHD_Daemon *daemon;
	int backend; /* the LoRaWAN Backend Interfaces listener: TS002 on POST / */
	pthread_mutex_t sources_lock;
	struct source_count sources[SOURCE_SLOTS];
};

struct req_state {
	struct timespec started;
	uint8_t *body;
	size_t len, cap;
	int too_large;
	int timed_out;
	int over_limit;
	size_t max_body; /* [http] max_body_bytes, or max_import_bytes for uploads */
	char source[HTTP_SOURCE_MAX];
};

int role_bit_from_name(const char *role)
{
	if (strcmp(role, "admin") == 0)
		return ROLE_ADMIN;
	if (strcmp(role, "operator") == 0)
		return ROLE_OPERATOR;
	if (strcmp(role, "auditor") == 0)
		return ROLE_AUDITOR;
	if (strcmp(role, "viewer") == 0)
		return ROLE_VIEWER;
	return 0;
}

void service_lock(struct service *svc) { pthread_mutex_lock(&svc->lock); }
void service_unlock(struct service *svc) { pthread_mutex_unlock(&svc->lock); }

static int read_file(const char *path, gnutls_datum_t *out, int secret)
{
	FILE *f = fopen(path, "re");
	struct stat st;
	size_t n;
	int r = 0;

	out->data = NULL;
	out->size = 0;
	if (f == NULL) {
		log_error("tls: cannot open %s: %s", path, strerror(errno));
		return IV_ERR_IO;
	}
	if (fstat(fileno(f), &st) != 0 || st.st_size <= 0 || st.st_size > MAX_TLS_FILE) {
		r = IV_ERR_TOO_LARGE;
		goto out;
	}
	if (secret && (st.st_mode & 077) != 0) {
		log_error("tls: %s is accessible to other users; it must be 0600", path);
		r = IV_ERR_PERMISSIONS;
		goto out;
	}
	/* the private key goes to secure memory, the certificate to the heap */
	/* one more byte: a NUL, for consumers that want a C string */
	out->data = secret ? secmem_alloc((size_t)st.st_size + 1)
			   : calloc(1, (size_t)st.st_size + 1); /* lint:not-secret */
	if (out->data == NULL) {
		r = IV_ERR_NOMEM;
		goto out;
	}
	setvbuf(f, NULL, _IONBF, 0);
	n = fread(out->data, 1, (size_t)st.st_size, f);
	out->size = (unsigned int)n;
	if (n != (size_t)st.st_size)
		r = IV_ERR_IO;
out:
	fclose(f);
	return r;
}

static void free_file(gnutls_datum_t *d, int secret)
{
	if (d->data == NULL)
		return;
	if (secret)
		secmem_free(d->data);
	else
		free(d->data);
	d->data = NULL;
}

static void tls_generation_free(struct tls_generation *g)
{
	while (g != NULL) {
		struct tls_generation *older = g->older;
		for (unsigned int i = 0; i < g->npcerts; i++)
			gnutls_pcert_deinit(&g->pcerts[i]);
		gnutls_privkey_deinit(g->key);
		free(g);
		g = older;
	}
}

/* A certificate reloaded with a key of another certificate would fail every
 * handshake: compare the public key of both. */
static int key_matches_certificate(const struct tls_generation *g)
{
	gnutls_pubkey_t from_key = NULL;
	gnutls_datum_t a = {NULL, 0}, b = {NULL, 0};
	int r = IV_ERR_CRYPTO;

	if (g->npcerts == 0 || gnutls_pubkey_init(&from_key) < 0)
		return IV_ERR_CRYPTO;
	if (gnutls_pubkey_import_privkey(from_key, g->key, 0, 0) >= 0 &&
	    gnutls_pubkey_export2(from_key, GNUTLS_X509_FMT_DER, &a) >= 0 &&
	    gnutls_pubkey_export2(g->pcerts[0].pubkey, GNUTLS_X509_FMT_DER, &b) >= 0 &&
	    a.size == b.size && memcmp(a.data, b.data, a.size) == 0) /* lint:not-secret */
		r = 0;
	gnutls_free(a.data);
	gnutls_free(b.data);
	gnutls_pubkey_deinit(from_key);
	return r;
}

static int tls_load(const struct config *cfg, struct tls_generation **out)
{
	struct tls_generation *g = calloc(1, sizeof(*g));
	gnutls_datum_t cert = {NULL, 0}, key = {NULL, 0};
	char *cert_path = config_path(cfg, cfg->tls_certificate);
	char *key_path = config_path(cfg, cfg->tls_private_key);
	int r, gr;

	if (g == NULL || cert_path == NULL || key_path == NULL) {
		r = IV_ERR_NOMEM;
		goto out;
	}
	if ((r = read_file(cert_path, &cert, 0)) != 0 || (r = read_file(key_path, &key, 1)) != 0)
		goto out;
	g->npcerts = MAX_CERT_CHAIN;
	if ((gr = gnutls_pcert_list_import_x509_raw(g->pcerts, &g->npcerts, &cert,
						    GNUTLS_X509_FMT_PEM, 0)) < 0) {
		log_error("tls: %s: %s", cert_path, gnutls_strerror(gr));
		g->npcerts = 0;
		r = IV_ERR_CRYPTO;
		goto out;
	}
	if ((gr = gnutls_privkey_init(&g->key)) < 0 ||
	    (gr = gnutls_privkey_import_x509_raw(g->key, &key, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
		log_error("tls: %s: %s", key_path, gnutls_strerror(gr));
		r = IV_ERR_CRYPTO;
		goto out;
	}
	if ((r = key_matches_certificate(g)) != 0) {
		log_error("tls: %s does not belong to the certificate in %s", key_path, cert_path);
		goto out;
	}
	*out = g;
	g = NULL;
	/* success */
	r = 0;
out:
	if (key.data)
		secmem_wipe(key.data, key.size);
	free_file(&key, 1);
	free_file(&cert, 0);
	free(cert_path);
	free(key_path);
	tls_generation_free(g);
	return r;
}

static int cert_callback(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
			 const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
			 gnutls_pcert_st **pcert, unsigned int *pcert_length, gnutls_privkey_t *pkey)
{
	(void)session;
	(void)req_ca_dn;
	(void)nreqs;
	(void)pk_algos;
	(void)pk_algos_length;
	pthread_rwlock_rdlock(&tls_lock);
	if (tls_current == NULL) {
		pthread_rwlock_unlock(&tls_lock);
		return -1;
	}
	*pcert = tls_current->pcerts;
	*pcert_length = tls_current->npcerts;
	*pkey = tls_current->key;
	pthread_rwlock_unlock(&tls_lock);
	return 0;
}

int http_server_reload_tls(struct http_server *srv)
{
	struct tls_generation *g = NULL;
	int r = tls_load(&srv->svc->cfg, &g);
	if (r != 0) {
		log_error("tls: reload failed; keeping the current certificate");
		return r;
	}
	pthread_rwlock_wrlock(&tls_lock);
	g->older = tls_current;
	tls_current = g;
	pthread_rwlock_unlock(&tls_lock);
	log_info("tls: certificate reloaded");
	return 0;
}

/* ---- connections per source ---- */

static struct source_count *source_slot(struct http_server *srv, const char *addr, int create)
{
	struct source_count *free_slot = NULL;
	for (size_t i = 0; i < SOURCE_SLOTS; i++) {
		if (srv->sources[i].count > 0 && strcmp(srv->sources[i].addr, addr) == 0)
			return &srv->sources[i];
		if (free_slot == NULL && srv->sources[i].count == 0)
			free_slot = &srv->sources[i];
	}
	if (create && free_slot != NULL)
		snprintf(free_slot->addr, sizeof(free_slot->addr), "%s", addr);
	return create ? free_slot : NULL;
}

static void connection_source(struct MHD_Connection *c, char *out, size_t len)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;
	out[0] = '\0';
	if (sa == NULL)
		snprintf(out, len, "unknown");
	else if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
			  (socklen_t)len);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
			  (socklen_t)len);
	else
		snprintf(out, len, "unknown");
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct http_server *srv = cls;
	char addr[HTTP_SOURCE_MAX];
	struct source_count *slot;

	(void)socket_context;
	connection_source(c, addr, sizeof(addr));
	pthread_mutex_lock(&srv->sources_lock);
	slot = source_slot(srv, addr, code == MHD_CONNECTION_NOTIFY_STARTED);
	if (slot != NULL) {
		if (code == MHD_CONNECTION_NOTIFY_STARTED)
			slot->count++;
		else if (slot->count > 0)
			slot->count--;
	}
	pthread_mutex_unlock(&srv->sources_lock);
}

static int source_over_limit(struct http_server *srv, const char *addr)
{
	struct source_count *slot;
	int over;
	pthread_mutex_lock(&srv->sources_lock);
	slot = source_slot(srv, addr, 0);
	over = slot != NULL && slot->count > srv->svc->cfg.http_connections_per_source;
	pthread_mutex_unlock(&srv->sources_lock);
	return over;
}

/* ---- replies ---- */

void http_field_error(struct http_reply *rep, const char *field, const char *code,
		      const char *message)
{
	json_t *e = json_object();
	if (rep->field_errors == NULL)
		rep->field_errors = json_array();
	json_object_set_new(e, "field", json_string(field));
	json_object_set_new(e, "code", json_string(code));
	json_object_set_new(e, "message", json_string(message));
	json_array_append_new(rep->field_errors, e);
}

struct audit_actor http_actor(const struct http_request *req)
{
	return (struct audit_actor){req->who.kind == PRINCIPAL_APIKEY ? "apikey" : "user",
				    req->who.name, req->source};
}

int http_load_device(struct http_request *req, struct http_reply *rep, const char *kind,
		     int wrong_kind, struct device_record *dev)
{
	struct device_selector sel = {0};
	int r;
	if (http_parse_id(req->params[0], &sel.id) != 0) {
		rep->error_message = "device id must be a positive integer";
		return IV_ERR_NOT_FOUND;
	}
	r = req->svc->st->ops->device_get(req->svc->st, req->who.tenant_id, &sel, dev);
	if (r == IV_ERR_NOT_FOUND)
		rep->error_message = "no such device";
	else if (r == 0 && kind != NULL && strcmp(dev->kind, kind) != 0) {
		rep->error_message = strcmp(kind, "lwm2m") == 0 ? "not an LwM2M device"
								 : "not a LoRaWAN device";
		r = wrong_kind;
	}
	return r;
}

json_t *http_error_body(int code, const char *message, json_t *field_errors)
{
	json_t *err = json_object();
	json_t *body = json_object();
	json_object_set_new(err, "code", json_string(iv_error_name(code)));
	json_object_set_new(err, "message",
			    json_string(message ? message : iv_error_message(code)));
	if (field_errors)
		json_object_set_new(err, "fields", field_errors);
	json_object_set_new(body, "error", err);
	return body;
}

int http_reply_header(struct http_reply *rep, const char *name, const char *value)
{
	if (rep->nheaders >= HTTP_REPLY_MAX_HEADERS || strlen(name) >= sizeof(rep->headers[0].name) ||
	    strlen(value) >= sizeof(rep->headers[0].value))
		return IV_ERR_TOO_LARGE;
	snprintf(rep->headers[rep->nheaders].name, sizeof(rep->headers[0].name), "%s", name);
	snprintf(rep->headers[rep->nheaders].value, sizeof(rep->headers[0].value), "%s", value);
	rep->nheaders++;
	return 0;
}

/* Overwrites every string in a JSON value: replies that carried keys. */
static void json_wipe_strings(json_t *j)
{
	const char *k;
	json_t *v;
	size_t i;
	if (json_is_string(j))
		secmem_wipe((char *)json_string_value(j), json_string_length(j));
	else if (json_is_object(j)) {
		json_object_foreach(j, k, v)
			json_wipe_strings(v);
	} else if (json_is_array(j)) {
		json_array_foreach(j, i, v)
			json_wipe_strings(v);
	}
}

struct secret_body {
	size_t len;
	char *text;
};

static void free_secret_body(void *cls)
{
	struct secret_body *sb = cls;
	secmem_wipe(sb->text, sb->len);
	free(sb->text);
	free(sb);
}

static void add_common_headers(struct MHD_Response *resp, int no_store)
{
	MHD_add_response_header(resp, "Strict-Transport-Security", HSTS);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Content-Security-Policy", CSP);
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, "Cross-Origin-Opener-Policy", "same-origin");
	MHD_add_response_header(resp, "Cross-Origin-Resource-Policy", "same-origin");
	MHD_add_response_header(resp, "Cache-Control", no_store ? "no-store" : "no-cache");
}

static enum MHD_Result send_json(struct MHD_Connection *c, int status, json_t *body, int secret,
				 const struct http_reply *rep, int close)
{
	struct MHD_Response *resp;
	struct secret_body *sb = NULL;
	char *text = NULL;
	size_t len = 0;
	enum MHD_Result ret;

	if (body != NULL) {
		text = json_dumps(body, JSON_COMPACT);
		if (secret)
			json_wipe_strings(body);
		if (text == NULL)
			return MHD_NO;
		len = strlen(text);
	}
	if (secret && text) {
		if ((sb = malloc(sizeof(*sb))) == NULL) {
			secmem_wipe(text, len);
			free(text);
			return MHD_NO;
		}
		sb->len = len;
		sb->text = text;
		resp = MHD_create_response_from_buffer_with_free_callback_cls(len, text,
									     free_secret_body, sb);
	} else if (text)
		resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	else
		resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	if (resp == NULL) {
		if (sb)
			free_secret_body(sb);
		else
			free(text);
		return MHD_NO;
	}
	add_common_headers(resp, 1);
	if (text)
		MHD_add_response_header(resp, "Content-Type", "application/json");
	for (size_t i = 0; rep && i < rep->nheaders; i++)
		MHD_add_response_header(resp, rep->headers[i].name, rep->headers[i].value);
	if (close)
		MHD_add_response_header(resp, "Connection", "close");
	ret = MHD_queue_response(c, (unsigned int)status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *c, int code, const char *message,
				  json_t *field_errors, int close)
{
	json_t *body = http_error_body(code, message, field_errors);
	enum MHD_Result ret = send_json(c, iv_error_http_status(code), body, 0, NULL, close);
	json_decref(body);
	return ret;
}

/* ---- request accessors ---- */

const char *http_header(const struct http_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *http_query(const struct http_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *http_cookie(const struct http_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_COOKIE_KIND, name);
}

int http_body_json(const struct http_request *req, struct http_reply *rep, json_t **out)
{
	json_error_t jerr;
	json_t *j;
	const char *ctype = http_header(req, "Content-Type");

	*out = NULL;
	if (ctype != NULL && strncmp(ctype, "application/json", 16) != 0) {
		rep->error_message = "the body must be application/json";
		return IV_ERR_MEDIA_TYPE;
	}
	if (req->body_len == 0) {
		rep->error_message = "a JSON object body is required";
		return IV_ERR_INVALID;
	}
	j = json_loadb((const char *)req->body, req->body_len,
		       JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL || !json_is_object(j)) {
		json_decref(j);
		rep->error_message = "the body is not a JSON object";
		return IV_ERR_INVALID;
	}
	*out = j;
	return 0;
}

int http_parse_id(const char *text, int64_t *out)
{
	char *end;
	long long v;
	if (text == NULL || text[0] < '1' || text[0] > '9')
		return IV_ERR_INVALID;
	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno || *end != '\0' || v <= 0)
		return IV_ERR_INVALID;
	*out = v;
	return 0;
}

/* ---- dispatch ---- */

static int same_origin(const struct http_request *req)
{
	const char *origin = http_header(req, "Origin");
	const char *host = http_header(req, "Host");
	char expect[300];
	if (origin == NULL || host == NULL)
		return 0;
	snprintf(expect, sizeof(expect), "https://%s", host);
	return strcmp(origin, expect) == 0;
}

static int is_safe_method(const char *method)
{
	return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
}

static enum MHD_Result dispatch(struct http_server *srv, struct MHD_Connection *c,
				const char *url, const char *method, struct req_state *rs)
{
	struct http_request req;
	struct http_reply rep;
	const struct route *route;
	char scratch[1024];
	const char *auth, *bearer = NULL, *token;
	int path_exists = 0, r, locked = 0;
	enum MHD_Result ret;

	memset(&req, 0, sizeof(req));
	memset(&rep, 0, sizeof(rep));
	rep.status = 200;
	route = router_match(method, url, req.params, &req.nparams, scratch, sizeof(scratch),
			     &path_exists);
	if (route == NULL && path_exists) {
		json_t *body = http_error_body(IV_ERR_METHOD, NULL, NULL);
		memset(&rep, 0, sizeof(rep));
		router_allowed_methods(url, scratch, sizeof(scratch));
		if (http_reply_header(&rep, "Allow", scratch) != 0)
			rep.nheaders = 0;
		ret = send_json(c, iv_error_http_status(IV_ERR_METHOD), body, 0, &rep, 0);
		json_decref(body);
		return ret;
	}
	if (route == NULL)
		return send_error(c, IV_ERR_NOT_FOUND, NULL, NULL, 0);
	req.svc = srv->svc;
	req.method = method;
	req.path = url;
	req.body = rs->body;
	req.body_len = rs->len;
	req.conn = c;
	snprintf(req.source, sizeof(req.source), "%s", rs->source);

	if (!(route->flags & ROUTE_PUBLIC)) {
		auth = http_header(&req, "Authorization");
		if (auth != NULL && strncasecmp(auth, "Bearer ", 7) == 0)
			bearer = auth + 7;
		token = http_cookie(&req, SESSION_COOKIE_NAME);
		if (bearer == NULL && token == NULL)
			return send_error(c, IV_ERR_UNAUTHENTICATED, NULL, NULL, 0);
		/* one lock acquisition covers authentication and the handler */
		service_lock(srv->svc);
		locked = 1;
		r = auth_resolve(srv->svc, bearer ? NULL : token, bearer, &req.who);
		if (r != 0 || (route->flags & ROUTE_SELF_LOCKING)) {
			service_unlock(srv->svc);
			locked = 0;
		}
		/* a busy or failing store is not a reason to log anyone out */
		if (r == IV_ERR_BUSY || r == IV_ERR_STORE || r == IV_ERR_NOMEM)
			return send_error(c, r, NULL, NULL, 0);
		if (r != 0)
			return send_error(c, r == IV_ERR_TOTP_REQUIRED ? r : IV_ERR_UNAUTHENTICATED,
					  NULL, NULL, 0);
		r = 0;
		if ((route->flags & ROUTE_USERS_ONLY) && req.who.kind != PRINCIPAL_USER)
			r = IV_ERR_FORBIDDEN;
		else if (!(req.who.role_bit & route->roles))
			r = auth_route_denied(&req.who, route->roles);
		else if (req.who.via_cookie && !is_safe_method(method) && !same_origin(&req))
			r = IV_ERR_CSRF;
		if (r != 0) {
			if (locked)
				service_unlock(srv->svc);
			return send_error(c, r,
					  r == IV_ERR_FORBIDDEN && (route->flags & ROUTE_USERS_ONLY) &&
							  req.who.kind != PRINCIPAL_USER
						  ? "only for signed-in users"
						  : NULL,
					  NULL, 0);
		}
	}
	if (!locked && !(route->flags & ROUTE_SELF_LOCKING)) {
		service_lock(srv->svc);
		locked = 1;
	}
	r = route->handler(&req, &rep);
	if (locked)
		service_unlock(srv->svc);
	if (r != 0) {
		json_decref(rep.body);
		if (r == IV_ERR_INTERNAL || r == IV_ERR_STORE || r == IV_ERR_CRYPTO)
			log_error("http: %s %s failed: %s", method, url, iv_error_name(r));
		if (r == IV_ERR_BUSY) {
			/* the handler's Retry-After; other failures drop its headers */
			json_t *body = http_error_body(r, rep.error_message, rep.field_errors);
			ret = send_json(c, iv_error_http_status(r), body, 0, &rep, 0);
			json_decref(body);
		} else
			ret = send_error(c, r, rep.error_message, rep.field_errors, 0);
		return ret;
	}
	json_decref(rep.field_errors);
	ret = send_json(c, rep.status, rep.body, (route->flags & ROUTE_CARRIES_KEYS) != 0, &rep, 0);
	json_decref(rep.body);
	return ret;
}

/* SHA-256 of the client's certificate, when it presented one. */
static int client_cert_sha256(struct MHD_Connection *c, char out[65])
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	const gnutls_datum_t *certs;
	unsigned int n = 0;
	uint8_t digest[32];
	size_t dlen = sizeof(digest);

	out[0] = '\0';
	if (ci == NULL || ci->tls_session == NULL)
		return 0;
	certs = gnutls_certificate_get_peers((gnutls_session_t)ci->tls_session, &n);
	if (certs == NULL || n == 0)
		return 0;
	if (gnutls_fingerprint(GNUTLS_DIG_SHA256, &certs[0], digest, &dlen) < 0 || dlen != 32)
		return 0;
	hex_encode_upper(digest, dlen, out);
	return 1;
}

/* The client's certificate chain as presented (leaf first), for peers
 * authenticated by their CA; the data stay owned by the TLS session. */
static size_t client_cert_chain(struct MHD_Connection *c, struct peer_cert_der out[PEER_CHAIN_MAX])
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	const gnutls_datum_t *certs;
	unsigned int n = 0;

	if (ci == NULL || ci->tls_session == NULL)
		return 0;
	certs = gnutls_certificate_get_peers((gnutls_session_t)ci->tls_session, &n);
	if (certs == NULL)
		return 0;
	if (n > PEER_CHAIN_MAX)
		n = PEER_CHAIN_MAX;
	for (unsigned int i = 0; i < n; i++)
		out[i] = (struct peer_cert_der){certs[i].data, certs[i].size};
	return n;
}

static enum MHD_Result dispatch_backend(struct http_server *srv, struct MHD_Connection *c,
					const char *url, const char *method, struct req_state *rs)
{
	struct js_request_ctx ctx;
	struct peer_cert_der chain[PEER_CHAIN_MAX];
	char fp[65];
	const char *auth;
	json_t *answer = NULL;
	enum MHD_Result ret;

	if (strcmp(url, "/") != 0)
		return send_error(c, IV_ERR_NOT_FOUND, "backend interfaces messages are posted to /",
				  NULL, 0);
	if (strcmp(method, "POST") != 0)
		return send_error(c, IV_ERR_METHOD, NULL, NULL, 0);
	memset(&ctx, 0, sizeof(ctx));
	ctx.source = rs->source;
	ctx.cert_sha256 = client_cert_sha256(c, fp) ? fp : NULL;
	ctx.ncerts = client_cert_chain(c, chain);
	ctx.certs = ctx.ncerts ? chain : NULL;
	auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	/* the scheme name is case-insensitive (RFC 9110) */
	if (auth != NULL && strncasecmp(auth, "Bearer ", 7) == 0)
		ctx.bearer = auth + 7;
	joinserver_handle(srv->svc, &ctx, rs->body, rs->len, &answer);
	/* answers carry wrapped keys only, but plaintext envelopes are possible */
	ret = send_json(c, 200, answer, 1, NULL, 0);
	json_decref(answer);
	return ret;
}

static double elapsed_s(const struct timespec *since)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - since->tv_sec) + (double)(now.tv_nsec - since->tv_nsec) / 1e9;
}

static enum MHD_Result add_header_size(void *cls, enum MHD_ValueKind kind, const char *key,
				       const char *value)
{
	size_t *total = cls;
	(void)kind;
	*total += strlen(key) + (value ? strlen(value) : 0) + 4; /* ": " and CRLF */
	return MHD_YES;
}

/* The request line and header fields as the client sent them, near enough. */
static size_t header_bytes(struct MHD_Connection *c, const char *url)
{
	size_t total = strlen(url) + 16;
	MHD_get_connection_values(c, MHD_HEADER_KIND, add_header_size, &total);
	return total;
}

/* Upload routes (bulk import, firmware images) take larger bodies than the
 * rest of the API. */
static size_t body_limit(const struct http_server *srv, const char *method, const char *url)
{
	const struct config *cfg = &srv->svc->cfg;
	const char *params[HTTP_MAX_PARAMS];
	const struct route *route;
	char scratch[1024];
	size_t nparams;
	int path_exists;

	if (srv->backend)
		return (size_t)cfg->http_max_body_bytes;
	route = router_match(method, url, params, &nparams, scratch, sizeof(scratch), &path_exists);
	if (route && (route->flags & ROUTE_FIRMWARE_BODY))
		return (size_t)cfg->lwm2m_firmware_max_bytes;
	return route && (route->flags & ROUTE_LARGE_BODY) ? (size_t)cfg->http_max_import_bytes
							  : (size_t)cfg->http_max_body_bytes;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_size, void **con_cls)
{
	struct http_server *srv = cls;
	struct req_state *rs = *con_cls;
	const struct config *cfg = &srv->svc->cfg;

	(void)version;
	if (rs == NULL) {
		const char *clen;
		rs = calloc(1, sizeof(*rs));
		if (rs == NULL)
			return MHD_NO;
		clock_gettime(CLOCK_MONOTONIC, &rs->started);
		connection_source(c, rs->source, sizeof(rs->source));
		*con_cls = rs;
		rs->max_body = body_limit(srv, method, url);
		if (source_over_limit(srv, rs->source)) {
			log_warning("http: %s exceeds %d connections", rs->source,
				    cfg->http_connections_per_source);
			return send_error(c, IV_ERR_THROTTLED, "too many connections from this address",
					  NULL, 1);
		}
		if (header_bytes(c, url) > (size_t)cfg->http_max_header_bytes)
			return send_error(c, IV_ERR_HEADERS_TOO_LARGE, NULL, NULL, 1);
		clen = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
		if (clen != NULL && strtoull(clen, NULL, 10) > (unsigned long long)rs->max_body)
			return send_error(c, IV_ERR_TOO_LARGE, "request body too large", NULL, 1);
		return MHD_YES;
	}
	if (*upload_size > 0) {
		double spent = elapsed_s(&rs->started);
		if (spent > 2.0 * cfg->http_request_timeout_s) {
			/* still trickling at twice the limit: give up on the client */
			log_warning("http: %s: request body not received within %d s; closing",
				    rs->source, 2 * cfg->http_request_timeout_s);
			return MHD_NO;
		}
		if (spent > cfg->http_request_timeout_s) {
			/* libmicrohttpd cannot reply while a body is arriving: drop the
			 * rest and answer 408 when it has arrived */
			rs->timed_out = 1;
			*upload_size = 0;
			return MHD_YES;
		}
		if (!rs->too_large && rs->len + *upload_size > rs->max_body)
			rs->too_large = 1;
		if (!rs->too_large) {
			if (rs->len + *upload_size > rs->cap) {
				size_t cap = rs->cap ? rs->cap : 4096;
				uint8_t *grown;
				while (cap < rs->len + *upload_size)
					cap *= 2;
				/* request bodies may carry keys: grown copies are wiped */
				grown = malloc(cap); /* lint:not-secret */
				if (grown == NULL)
					return MHD_NO;
				if (rs->len) {
					memcpy(grown, rs->body, rs->len);
					secmem_wipe(rs->body, rs->len);
				}
				free(rs->body);
				rs->body = grown;
				rs->cap = cap;
			}
			memcpy(rs->body + rs->len, upload_data, *upload_size);
			rs->len += *upload_size;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (rs->too_large)
		return send_error(c, IV_ERR_TOO_LARGE, "request body too large", NULL, 1);
	if (rs->timed_out)
		return send_error(c, IV_ERR_TIMEOUT, NULL, NULL, 1);
	if (srv->backend)
		return dispatch_backend(srv, c, url, method, rs);
	return dispatch(srv, c, url, method, rs);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct req_state *rs = *con_cls;
	(void)cls;
	(void)c;
	(void)toe;
	if (rs == NULL)
		return;
	if (rs->body) {
		secmem_wipe(rs->body, rs->cap);
		free(rs->body);
	}
	free(rs);
	*con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	log_warning("http: %s", line);
}

static int parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[256], *colon;
	struct addrinfo hints, *res = NULL;
	int gr;

	snprintf(host, sizeof(host), "%s", listen);
	colon = strrchr(host, ':');
	if (colon == NULL)
		return IV_ERR_CONFIG;
	*colon = '\0';
	if (host[0] == '[') {
		size_t n = strlen(host);
		if (n < 2 || host[n - 1] != ']')
			return IV_ERR_CONFIG;
		host[n - 1] = '\0';
		memmove(host, host + 1, n - 1);
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	hints.ai_socktype = SOCK_STREAM;
	if ((gr = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &res)) != 0 || res == NULL) {
		log_error("http: listen address '%s' is not numeric host:port", listen);
		return IV_ERR_CONFIG;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static int start(struct service *svc, const char *listen, int backend, struct http_server **out)
{
	struct http_server *srv = calloc(1, sizeof(*srv));
	struct sockaddr_storage addr;
	socklen_t addr_len;
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_TLS | MHD_USE_ERROR_LOG;
	gnutls_datum_t trust = {NULL, 0};
	char *cert_path = NULL;
	int r;

	if (srv == NULL)
		return IV_ERR_NOMEM;
	srv->svc = svc;
	srv->backend = backend;
	pthread_mutex_init(&srv->sources_lock, NULL);
	if ((r = parse_listen(listen, &addr, &addr_len)) != 0)
		goto fail;
	if (!backend && (r = http_server_reload_tls(srv)) != 0)
		goto fail;
	if (backend) {
		/* libmicrohttpd asks for client certificates only when it has a
		 * trust list; peers are matched by their pinned certificate in
		 * the join server, so the server's own certificate suffices */
		if ((cert_path = config_path(&svc->cfg, svc->cfg.tls_certificate)) == NULL ||
		    (r = read_file(cert_path, &trust, 0)) != 0) {
			r = r ? r : IV_ERR_NOMEM;
			goto fail;
		}
	}
	if (addr.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	flags |= MHD_USE_EPOLL;
	srv->daemon = MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, srv,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, srv,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
		MHD_OPTION_HTTPS_CERT_CALLBACK, cert_callback,
		MHD_OPTION_HTTPS_PRIORITIES, http_tls_priorities,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)svc->cfg.http_threads,
		/* room for twice the header limit, so our own 431 check runs before
		 * libmicrohttpd runs out of buffer and answers on its own */
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)svc->cfg.http_max_header_bytes * 2 + 16384,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)svc->cfg.http_request_timeout_s,
		/* a hard stop well above the 429 threshold */
		MHD_OPTION_PER_IP_CONNECTION_LIMIT,
		(unsigned int)svc->cfg.http_connections_per_source * 2 + 2,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
		backend ? MHD_OPTION_HTTPS_MEM_TRUST : MHD_OPTION_END, (const char *)trust.data,
		MHD_OPTION_END);
	if (srv->daemon == NULL) {
		log_error("http: cannot listen on %s", listen);
		r = IV_ERR_IO;
		goto fail;
	}
	log_info("%s: listening on https://%s", backend ? "backend" : "http", listen);
	free_file(&trust, 0);
	free(cert_path);
	*out = srv;
	return 0;
fail:
	free_file(&trust, 0);
	free(cert_path);
	http_server_stop(srv);
	return r;
}

int http_server_start(struct service *svc, struct http_server **out)
{
	return start(svc, svc->cfg.http_listen, 0, out);
}

int http_backend_start(struct service *svc, struct http_server **out)
{
	return start(svc, svc->cfg.backend_listen, 1, out);
}

void http_server_stop(struct http_server *srv)
{
	if (srv == NULL)
		return;
	if (srv->daemon)
		MHD_stop_daemon(srv->daemon);
	/* the API listener owns the shared certificate */
	if (!srv->backend) {
		pthread_rwlock_wrlock(&tls_lock);
		tls_generation_free(tls_current);
		tls_current = NULL;
		pthread_rwlock_unlock(&tls_lock);
	}
	pthread_mutex_destroy(&srv->sources_lock);
	free(srv);
}
