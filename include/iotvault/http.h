/* The HTTPS API server: libmicrohttpd over GnuTLS, a route table per
 * resource, JSON replies, and the request/reply types every handler uses.
 *
 * A handler runs with the service lock held (store and vault are single-
 * threaded objects) unless its route says ROUTE_SELF_LOCKING, in which case
 * it calls service_lock/service_unlock around its store and vault work (so
 * that slow work such as Argon2id runs unlocked). A handler returns 0 after
 * filling REPLY, or a negative code from the error registry; the server then
 * answers {"error": {"code", "message"[, "fields"]}} with the registry's
 * HTTP status, using REPLY->error_message / REPLY->field_errors when set. */
#ifndef IOTVAULT_HTTP_H
#define IOTVAULT_HTTP_H

#include <jansson.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "iotvault/audit.h"
#include "iotvault/config.h"
#include "iotvault/errors.h"
#include "iotvault/store.h"
#include "iotvault/vault.h"

/* Roles as bits, so a route lists who may call it. */
enum role_bit {
	ROLE_ADMIN = 1,
	ROLE_OPERATOR = 2,
	ROLE_AUDITOR = 4,
	ROLE_VIEWER = 8,
};
#define ROLES_ALL (ROLE_ADMIN | ROLE_OPERATOR | ROLE_AUDITOR | ROLE_VIEWER)

/* "admin" -> ROLE_ADMIN ...; 0 when unknown. */
int role_bit_from_name(const char *role);

enum principal_kind { PRINCIPAL_NONE = 0, PRINCIPAL_USER, PRINCIPAL_APIKEY };

/* Who is calling, resolved from the session cookie or the bearer API key. */
struct principal {
	enum principal_kind kind;
	int64_t tenant_id;
	char tenant[STORE_NAME_MAX + 1];
	int64_t user_id;   /* PRINCIPAL_USER */
	int64_t apikey_id; /* PRINCIPAL_APIKEY */
	int64_t session_id;
	char name[STORE_NAME_MAX + 1]; /* user name or API key name */
	char role[STORE_KIND_MAX + 1];
	int role_bit;
	int via_cookie; /* state-changing cookie requests need a same-origin Origin */
};

/* Shared state of the running server. */
struct service {
	struct config cfg;
	struct store *st;
	struct vault *v;
	pthread_mutex_t lock;
	/* the common-password list, sorted, for the password policy (auth/) */
	void *password_policy;
};

void service_lock(struct service *svc);
void service_unlock(struct service *svc);

#define HTTP_MAX_PARAMS 4
#define HTTP_SOURCE_MAX 64

struct http_request {
	struct service *svc;
	const char *method;
	const char *path;
	/* values of the {placeholders} of the route pattern, in order */
	const char *params[HTTP_MAX_PARAMS];
	size_t nparams;
	const uint8_t *body;
	size_t body_len;
	struct principal who;
	char source[HTTP_SOURCE_MAX]; /* the peer's IP address */
	void *conn;                   /* struct MHD_Connection, for the accessors */
};

#define HTTP_REPLY_MAX_HEADERS 4

struct http_reply {
	int status;        /* default 200 */
	json_t *body;      /* owned by the reply; NULL for no body (204) */
	int no_store;      /* also implied whenever the route is ROUTE_CARRIES_KEYS */
	const char *error_message; /* static or owned by handler until reply is sent */
	json_t *field_errors;      /* owned by the reply */
	struct {
		char name[32];
		char value[512];
	} headers[HTTP_REPLY_MAX_HEADERS];
	size_t nheaders;
};

/* Adds a response header (e.g. Set-Cookie). IV_ERR_TOO_LARGE when full. */
int http_reply_header(struct http_reply *rep, const char *name, const char *value) IV_WUR;

/* Request accessors (NULL when absent). */
const char *http_header(const struct http_request *req, const char *name);
const char *http_query(const struct http_request *req, const char *name);
const char *http_cookie(const struct http_request *req, const char *name);

/* Parses the request body as a JSON object (IV_ERR_INVALID with a message in
 * REP when it is not). */
int http_body_json(const struct http_request *req, struct http_reply *rep, json_t **out) IV_WUR;

typedef int (*http_handler)(struct http_request *req, struct http_reply *rep);

enum route_flags {
	ROUTE_PUBLIC = 1,        /* no authentication (login, health) */
	ROUTE_SELF_LOCKING = 2,  /* handler takes the service lock itself */
	ROUTE_CARRIES_KEYS = 4,  /* response carries key material: Cache-Control: no-store */
	ROUTE_USERS_ONLY = 8,    /* not for API keys (password change, logout) */
	ROUTE_LARGE_BODY = 16,   /* uploads: body limit [http] max_import_bytes */
	ROUTE_FIRMWARE_BODY = 32, /* firmware images: body limit [lwm2m] firmware_max_bytes */
};

struct route {
	const char *method;
	const char *pattern; /* e.g. "/api/v1/devices/{id}/keys" */
	http_handler handler;
	int roles;           /* ROLE_* bits allowed; ignored for ROUTE_PUBLIC */
	int flags;
};

/* Route tables, one per resource file under src/http/, each ending with a
 * {NULL} entry. */
extern const struct route health_routes[];
extern const struct route session_routes[];
extern const struct route user_routes[];
extern const struct route tenant_routes[];
extern const struct route device_routes[];
extern const struct route apikey_routes[];
extern const struct route audit_routes[];
extern const struct route hygiene_routes[];
extern const struct route webhook_routes[];
extern const struct route import_routes[];
extern const struct route ingest_routes[];
extern const struct route uplink_routes[];
extern const struct route downlink_routes[];
extern const struct route export_routes[];
extern const struct route lwm2m_rebootstrap_routes[];
extern const struct route lwm2m_routes[];
extern const struct route lwm2m_pki_routes[];
extern const struct route lwm2m_firmware_routes[];
extern const struct route lwm2m_observe_routes[];
extern const struct route lwm2m_queue_routes[];
extern const struct route peer_routes[];

/* Matches METHOD and PATH against every table; fills PARAMS. Returns the
 * route, or NULL with *PATH_EXISTS set when only the method differs. */
const struct route *router_match(const char *method, const char *path,
				 const char *params[HTTP_MAX_PARAMS], size_t *nparams,
				 char *scratch, size_t scratch_len, int *path_exists);

/* "GET, POST" for the methods PATH supports (for 405's Allow header). */
void router_allowed_methods(const char *path, char *out, size_t cap);

struct http_server;

/* Starts the listener of SVC->cfg (TLS policy, limits, thread pool). */
int http_server_start(struct service *svc, struct http_server **out) IV_WUR;
/* Starts the LoRaWAN Backend Interfaces listener ([backend] listen): same
 * TLS policy and certificate, client certificates requested, TS002 JSON
 * posted to / handed to the join server. Start the API listener first. */
int http_backend_start(struct service *svc, struct http_server **out) IV_WUR;
/* Re-reads the certificate and key; the old ones stay in use on failure. */
int http_server_reload_tls(struct http_server *srv) IV_WUR;
void http_server_stop(struct http_server *srv);

/* The TLS priority string of every iotvault listener: TLS 1.2/1.3, ECDHE,
 * AEAD only, X25519/P-256/P-384. */
extern const char http_tls_priorities[];

/* Helpers for handlers. */
json_t *http_error_body(int code, const char *message, json_t *field_errors);
/* Appends {"field", "code", "message"} to REP->field_errors (created on
 * first use): one entry of a 4xx answer's per-field errors. */
void http_field_error(struct http_reply *rep, const char *field, const char *code,
		      const char *message);
/* The audit actor of the request's principal: an API key or a user, by
 * name, from the request's source address. */
struct audit_actor http_actor(const struct http_request *req);
/* The device of the route's first parameter ({id}) in the caller's tenant
 * (another tenant's: 404). KIND ("lorawan", "lwm2m"; NULL: any) must match,
 * else WRONG_KIND (IV_ERR_NOT_FOUND or IV_ERR_INVALID) with a message. */
int http_load_device(struct http_request *req, struct http_reply *rep, const char *kind,
		     int wrong_kind, struct device_record *dev) IV_WUR;
/* Parses a positive int64 path or query parameter. */
int http_parse_id(const char *text, int64_t *out) IV_WUR;

#endif
