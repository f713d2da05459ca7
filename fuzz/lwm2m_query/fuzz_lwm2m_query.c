/* libFuzzer target for the query strings of the LwM2M registration and
 * bootstrap interfaces (src/lwm2m/query.c). The first byte picks the kind
 * (Register, Update, Bootstrap-Request); the rest is the query as libcoap
 * hands it over. Whatever is accepted must obey the documented rules. */
#include "iotvault/lwm2m_query.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct lwm2m_query_limits limits = {1, 30 * 86400, 86400};
	struct lwm2m_query q;
	enum lwm2m_query_kind kind;
	char buf[8];
	int r;

	if (size == 0)
		return 0;
	kind = (enum lwm2m_query_kind)(data[0] % 3);
	data++;
	size--;
	r = lwm2m_query_parse(kind, data, size, kind == LWM2M_QUERY_BOOTSTRAP ? NULL : &limits, &q);
	if (r != 0 && r != IV_ERR_INVALID && r != IV_ERR_REFUSED && r != IV_ERR_TOO_LARGE)
		abort();
	if (r == IV_ERR_REFUSED && kind != LWM2M_QUERY_REGISTER)
		abort();
	if (r == 0) {
		if (size > LWM2M_QUERY_MAX)
			abort();
		if (kind != LWM2M_QUERY_UPDATE &&
		    (!q.has_ep || !lwm2m_ident_ok(q.ep, strlen(q.ep), STORE_NAME_MAX)))
			abort();
		if (kind == LWM2M_QUERY_UPDATE && q.has_ep)
			abort();
		if (kind == LWM2M_QUERY_REGISTER) {
			if (strcmp(q.version, "1.0") != 0 && strcmp(q.version, "1.1") != 0)
				abort();
			if (q.lifetime_s < limits.lifetime_min_s || q.lifetime_s > limits.lifetime_max_s)
				abort();
			if (lwm2m_query_check_version(&q, q.version) != 0)
				abort();
		}
		if (kind != LWM2M_QUERY_BOOTSTRAP) {
			if (q.binding[0] == '\0' ||
			    strspn(q.binding, "UQSTN") != strlen(q.binding))
				abort();
			if (q.queue != (q.queue_param || strchr(q.binding, 'Q') != NULL))
				abort();
		}
		if (q.has_pct && q.pct > 65535)
			abort();
	}
	/* the single-parameter reader never writes past its buffer */
	r = lwm2m_query_param(data, size, "ep", buf, sizeof(buf));
	if (r < IV_ERR_INVALID || r > 1 || strlen(buf) >= sizeof(buf))
		abort();
	return 0;
}
