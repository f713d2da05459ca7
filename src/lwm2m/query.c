/* Query strings of the registration and bootstrap interfaces (LwM2M 1.0/1.1
 * core, 5.2.7.1 and 5.3): pure functions, no libcoap, so the rules are unit
 * tested (tests/unit/test_lwm2m_query.c) and fuzzed (fuzz/lwm2m_query). The
 * server turns the IV_ERR_* codes into CoAP answers. */
#include "iotvault/lwm2m_query.h"

#include <stdio.h>
#include <string.h>

/* 365 days in seconds has 8 digits; more is not a lifetime */
#define LIFETIME_DIGITS_MAX 10
/* the whole query fits: a long version is 4.12, only a repeated one 4.00 */
#define VERSION_READ_MAX (LWM2M_QUERY_MAX + 1)

int lwm2m_ident_ok(const char *s, size_t len, size_t max)
{
	if (len == 0 || len > max)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      (c != '\0' && strchr("._:@+-", c) != NULL)))
			return 0;
	}
	return 1;
}

int lwm2m_query_param(const uint8_t *q, size_t len, const char *name, char *buf, size_t cap)
{
	size_t nlen = strlen(name), i = 0;
	int found = 0;

	if (cap == 0)
		return IV_ERR_INVALID;
	buf[0] = '\0';
	if (q == NULL)
		return 0;
	while (i <= len) {
		size_t j = i;
		while (j < len && q[j] != '&')
			j++;
		/* one parameter in [i, j) */
		const uint8_t *p = q + i;
		size_t plen = j - i;
		if (plen >= nlen && memcmp(p, name, nlen) == 0 && /* lint:not-secret */
		    (plen == nlen || p[nlen] == '=')) {
			size_t vlen = plen == nlen ? 0 : plen - nlen - 1;
			if (found || vlen >= cap)
				return IV_ERR_INVALID;
			memcpy(buf, p + (plen == nlen ? nlen : nlen + 1), vlen);
			buf[vlen] = '\0';
			found = 1;
		}
		i = j + 1;
	}
	return found;
}

/* Digits only, no sign, no leading blanks: strtoll would accept " +7". */
static int parse_unsigned(const char *s, size_t max_digits, int64_t *out)
{
	size_t n = strlen(s);
	int64_t v = 0;
	if (n == 0 || n > max_digits)
		return IV_ERR_INVALID;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return IV_ERR_INVALID;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* U, S, T, N (transports) and Q (queue mode, LwM2M 1.0), each at most once,
 * at least one transport. */
static int binding_ok(const char *b)
{
	unsigned seen = 0;
	int transports = 0;
	if (b[0] == '\0')
		return 0;
	for (const char *c = b; *c != '\0'; c++) {
		const char *at = strchr("UQSTN", *c);
		if (at == NULL)
			return 0;
		unsigned bit = 1u << (unsigned)(at - "UQSTN");
		if (seen & bit)
			return 0;
		seen |= bit;
		transports += *c != 'Q';
	}
	return transports > 0;
}

/* True when NAME appears as a bare parameter ("...&Q&..."), not "Q=". */
static int bare_flag(const uint8_t *q, size_t len, const char *name)
{
	size_t nlen = strlen(name), i = 0;
	while (i <= len) {
		size_t j = i;
		while (j < len && q[j] != '&')
			j++;
		if (j - i == nlen && memcmp(q + i, name, nlen) == 0) /* lint:not-secret */
			return 1;
		i = j + 1;
	}
	return 0;
}

int lwm2m_query_check_version(const struct lwm2m_query *q, const char *version)
{
	/* 1.0 says queue mode in the binding; 1.1 moved it to the Q parameter and
	 * dropped Q from the binding letters */
	if (strcmp(version, "1.0") == 0 && q->queue_param)
		return IV_ERR_INVALID;
	if (strcmp(version, "1.1") == 0 && q->has_binding && strchr(q->binding, 'Q') != NULL)
		return IV_ERR_INVALID;
	return 0;
}

int lwm2m_query_parse(enum lwm2m_query_kind kind, const uint8_t *q, size_t len,
		      const struct lwm2m_query_limits *limits, struct lwm2m_query *out)
{
	char lt[LIFETIME_DIGITS_MAX + 2], version[VERSION_READ_MAX], qv[2], pct[LWM2M_PCT_MAX + 2];
	int64_t v;
	int r;

	memset(out, 0, sizeof(*out));
	if (len > LWM2M_QUERY_MAX)
		return IV_ERR_TOO_LARGE;
	/* a NUL would cut a value short behind the checks; no parameter of these
	 * interfaces has a control character or a byte above ASCII */
	for (size_t i = 0; i < len; i++)
		if (q[i] < 0x21 || q[i] > 0x7e)
			return IV_ERR_INVALID;

	if ((r = lwm2m_query_param(q, len, "ep", out->ep, sizeof(out->ep))) < 0)
		return r;
	out->has_ep = r;
	if (kind == LWM2M_QUERY_UPDATE) {
		/* an Update does not name the endpoint, nor change the version */
		if (out->has_ep)
			return IV_ERR_INVALID;
		if ((r = lwm2m_query_param(q, len, "lwm2m", version, sizeof(version))) != 0)
			return IV_ERR_INVALID;
	} else if (!out->has_ep || !lwm2m_ident_ok(out->ep, strlen(out->ep), STORE_NAME_MAX))
		return IV_ERR_INVALID;

	if (kind == LWM2M_QUERY_BOOTSTRAP) {
		/* LwM2M 1.1 "pct": the content format the client prefers */
		if ((r = lwm2m_query_param(q, len, "pct", pct, sizeof(pct))) < 0)
			return r;
		if (r == 1) {
			if (parse_unsigned(pct, LWM2M_PCT_MAX, &v) != 0 || v > 65535)
				return IV_ERR_INVALID;
			out->has_pct = 1;
			out->pct = (unsigned)v;
		}
		return 0;
	}

	if ((r = lwm2m_query_param(q, len, "lt", lt, sizeof(lt))) < 0)
		return r;
	if (r == 1) {
		if (parse_unsigned(lt, LIFETIME_DIGITS_MAX, &v) != 0 || v < limits->lifetime_min_s ||
		    v > limits->lifetime_max_s)
			return IV_ERR_INVALID;
		out->has_lt = 1;
		out->lifetime_s = v;
	} else if (kind == LWM2M_QUERY_REGISTER)
		out->lifetime_s = limits->lifetime_default_s;

	if (kind == LWM2M_QUERY_REGISTER) {
		/* a repeated "lwm2m" is malformed (4.00); any single value we do
		 * not speak, however long, is an unsupported version (4.12) */
		if ((r = lwm2m_query_param(q, len, "lwm2m", version, sizeof(version))) < 0)
			return r;
		if (r == 1 && strcmp(version, "1.0") != 0 && strcmp(version, "1.1") != 0)
			return IV_ERR_REFUSED;
		snprintf(out->version, sizeof(out->version), "%s",
			 r == 1 && strcmp(version, "1.1") == 0 ? "1.1" : "1.0");
	}

	if ((r = lwm2m_query_param(q, len, "b", out->binding, sizeof(out->binding))) < 0)
		return r;
	if (r == 1) {
		if (!binding_ok(out->binding))
			return IV_ERR_INVALID;
		out->has_binding = 1;
	} else
		snprintf(out->binding, sizeof(out->binding), "U");

	/* "Q" is a bare flag: "Q=" or "Q=1" is not it */
	if ((r = lwm2m_query_param(q, len, "Q", qv, sizeof(qv))) < 0)
		return r;
	if (r == 1 && !bare_flag(q, len, "Q"))
		return IV_ERR_INVALID;
	out->queue_param = r;
	out->queue = out->queue_param || strchr(out->binding, 'Q') != NULL;
	if (kind == LWM2M_QUERY_REGISTER)
		return lwm2m_query_check_version(out, out->version);
	return 0;
}
