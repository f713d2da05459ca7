/* The query strings of the LwM2M registration and bootstrap interfaces
 * (`?ep=&lt=&lwm2m=&b=&Q` of Register and Update, `?ep=&pct=` of
 * Bootstrap-Request), parsed without libcoap so that the rules can be unit
 * tested and fuzzed. The input is the request's Uri-Query options joined
 * with '&', as libcoap hands them to a resource handler. */
#ifndef IOTVAULT_LWM2M_QUERY_H
#define IOTVAULT_LWM2M_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "iotvault/errors.h"
#include "iotvault/store.h"
#include "iotvault/store_lwm2m.h"

/* A query longer than this is refused whole (CoAP limits one Uri-Query
 * option to 255 bytes; five of them fit). */
#define LWM2M_QUERY_MAX 1024
#define LWM2M_PCT_MAX 5 /* a content format number, 0..65535 */

enum lwm2m_query_kind {
	LWM2M_QUERY_REGISTER,  /* POST /rd */
	LWM2M_QUERY_UPDATE,    /* POST /rd/{location} */
	LWM2M_QUERY_BOOTSTRAP, /* POST /bs */
};

/* Lifetime bounds of the server ([lwm2m] lifetime_*_s). */
struct lwm2m_query_limits {
	int64_t lifetime_min_s;
	int64_t lifetime_max_s;
	int64_t lifetime_default_s;
};

struct lwm2m_query {
	int has_ep;
	char ep[STORE_NAME_MAX + 1];
	int has_lt;
	int64_t lifetime_s; /* lt, or the default for a Register without it */
	char version[LWM2M_VERSION_MAX + 1]; /* "1.0" or "1.1" (Register only) */
	int has_binding;
	char binding[LWM2M_BINDING_MAX + 1]; /* "U" when absent */
	int queue_param; /* the bare "Q" parameter (LwM2M 1.1) */
	int queue;       /* queue mode: Q parameter or Q in the binding */
	int has_pct;
	unsigned pct; /* Bootstrap-Request: the content format the client prefers */
};

/* The value of parameter NAME in the query Q (LEN bytes, "a=1&b&c=3"):
 * 1 with a NUL-terminated copy in BUF (CAP bytes; "" for a bare name) when
 * present once, 0 when absent (BUF is ""), IV_ERR_INVALID when repeated or
 * when the value does not fit. Names are case-sensitive ("Q" is not "q"). */
int lwm2m_query_param(const uint8_t *q, size_t len, const char *name, char *buf,
		      size_t cap) IV_WUR;

/* Parses the query Q of a request of KIND into OUT by the rules of
 * docs/lwm2m.md ("Registration"). Returns 0; IV_ERR_REFUSED for a Register
 * naming an LwM2M version other than 1.0 and 1.1 (CoAP 4.12);
 * IV_ERR_TOO_LARGE for a query above LWM2M_QUERY_MAX; IV_ERR_INVALID for
 * anything else that is wrong (CoAP 4.00). Unknown parameters are ignored. */
int lwm2m_query_parse(enum lwm2m_query_kind kind, const uint8_t *q, size_t len,
		      const struct lwm2m_query_limits *limits, struct lwm2m_query *out) IV_WUR;

/* The rule on queue mode that depends on the LwM2M VERSION of the
 * registration ("1.0": no Q parameter; "1.1": no Q in the binding), for an
 * Update, whose query does not carry the version. 0 or IV_ERR_INVALID. */
int lwm2m_query_check_version(const struct lwm2m_query *q, const char *version) IV_WUR;

/* True for [A-Za-z0-9._:@+-]{1,MAX}: endpoint names and PSK identities. */
int lwm2m_ident_ok(const char *s, size_t len, size_t max);

#endif
