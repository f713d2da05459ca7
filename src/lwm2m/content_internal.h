/* Helpers shared by the LwM2M content-format codecs (src/lwm2m/), not part of
 * the public contract in include/iotvault/lwm2m_content.h. */
#ifndef IOTVAULT_LWM2M_CONTENT_INTERNAL_H
#define IOTVAULT_LWM2M_CONTENT_INTERNAL_H

#include "iotvault/lwm2m_content.h"

/* Well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF)
 * without a NUL byte, which a STRING must not carry since callers use it as
 * a C string. */
bool lwm2m_utf8_valid(const uint8_t *s, size_t len);
/* Drops (and wipes) records past COUNT: how a decoder undoes a partial
 * result. */
void lwm2m_records_truncate(struct lwm2m_records *recs, size_t count);
/* The type the context's model gives PATH, or NONE. */
enum lwm2m_type lwm2m_ctx_type(const struct lwm2m_decode_ctx *ctx,
			       const struct lwm2m_path *path);
/* Shortest decimal text of F that reads back as F; IV_ERR_INVALID for
 * infinities and NaN, which neither text nor JSON can carry. */
int lwm2m_format_double(double f, char *buf, size_t cap) IV_WUR;

/* "obj:inst", each 0..65535 (plain text, SenML "vlo"). */
int lwm2m_objlnk_parse(const uint8_t *p, size_t len, struct lwm2m_value *out) IV_WUR;

/* ---- SenML, shared by the JSON and CBOR codecs (senml_json.c) ---- */

/* The fields of one SenML record as a decoder found them. */
struct senml_fields {
	const uint8_t *bn, *n;
	size_t bn_len, n_len;
	bool has_bn, has_n, has_bt, has_t;
	double bt, t;
	struct lwm2m_value value; /* NONE when the record has no value */
};

/* Base name and base time, which carry over to the records that follow. */
struct senml_state {
	char bn[LWM2M_SENML_NAME_MAX + 1];
	size_t bn_len;
	bool has_bt;
	double bt;
};

/* Resolves the record's name against the state, checks that it is an LwM2M
 * path under the context's base, gives the value the model's type, and
 * appends it to OUT. */
int lwm2m_senml_add(struct senml_state *st, const struct senml_fields *f,
		    const struct lwm2m_decode_ctx *ctx, struct lwm2m_records *out) IV_WUR;

/* How an encoder names the records of IN under BASE: the base name to put in
 * the first record (empty for the root) and, per record, the rest. */
struct senml_names {
	char bn[LWM2M_PATH_TEXT_MAX + 1];
	bool bn_ends_with_slash;
};
int lwm2m_senml_names_init(const struct lwm2m_path *base, const struct lwm2m_records *in,
			   struct senml_names *names) IV_WUR;
/* The name of PATH relative to the base name ("" when it is the base). */
int lwm2m_senml_name(const struct senml_names *names, const struct lwm2m_path *base,
		     const struct lwm2m_path *path, char *buf, size_t cap) IV_WUR;

#endif
