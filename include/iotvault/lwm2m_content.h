/* LwM2M content formats: the data model shared by every LwM2M operation (a
 * flat list of (path, typed value) records, which is what a Read returns and
 * what a Write sends) and the codecs between it and the wire: OMA TLV
 * (11542, and 1542 of LwM2M 1.0, decoded the same way), SenML JSON (110),
 * SenML CBOR (112), plain text (0), opaque (42), and CoRE link-format (40)
 * for registration payloads and Discover results.
 *
 * This is a pure library: no I/O, no global state. Every decoder appends to
 * the caller's list and, on failure, leaves the list exactly as it was; the
 * failure is IV_ERR_INVALID (malformed or not allowed by the LwM2M profile),
 * IV_ERR_TRUNCATED (input ends inside an element) or IV_ERR_TOO_LARGE (a
 * limit below was exceeded). Encoders write into a caller buffer and return
 * IV_ERR_TOO_LARGE when it is too small.
 *
 * Secrets: a Write to the Security object carries a PSK, so a record list
 * keeps its string and opaque bytes in secure memory (secmem_alloc), wiped
 * when the list is cleared or freed; secmem_init() must have been called. The
 * TLV and SenML CBOR codecs never copy value bytes anywhere else (CBOR is
 * read with libcbor's streaming decoder and written with its encoding
 * functions straight into the caller's buffer). SenML JSON goes through
 * jansson's ordinary heap; do not carry key material in SenML JSON. */
#ifndef IOTVAULT_LWM2M_CONTENT_H
#define IOTVAULT_LWM2M_CONTENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iotvault/errors.h"

/* ---- limits (every decoder enforces them) ---- */

/* Object, instance and resource (instance) ids; 65535 is reserved. */
#define LWM2M_ID_MAX 65534u
/* /obj/inst/res/ri */
#define LWM2M_PATH_DEPTH_MAX 4
/* "/65534/65534/65534/65534" and its NUL */
#define LWM2M_PATH_TEXT_MAX 25
/* Largest payload any decoder accepts (a reassembled block-wise body). */
#define LWM2M_PAYLOAD_MAX 65536u
/* Records in one list, hence in one decoded payload. */
#define LWM2M_RECORDS_MAX 1024u
/* One string or opaque value (certificates fit; firmware images are sent as
 * raw block-wise payloads, never through a record list). */
#define LWM2M_VALUE_MAX 16384u
/* All string and opaque bytes of one list together. */
#define LWM2M_RECORDS_BYTES_MAX (1024u * 1024u)
/* Container nesting: TLV object instance > multiple resource > resource
 * instance; SenML array > record map (values are scalars). */
#define LWM2M_NESTING_MAX 3
/* A SenML name after base-name resolution ("bn" + "n"). */
#define LWM2M_SENML_NAME_MAX 64
/* Fields in one SenML record. */
#define LWM2M_SENML_FIELDS_MAX 16
/* Link-format: links per payload, attributes per link and their sizes. */
#define LWM2M_LINKS_MAX 1024u
#define LWM2M_LINK_ATTRS_MAX 16
#define LWM2M_LINK_URI_MAX 128
#define LWM2M_LINK_ATTR_NAME_MAX 32
#define LWM2M_LINK_ATTR_VALUE_MAX 256

/* ---- content formats (CoAP Content-Format numbers) ---- */

enum lwm2m_content_format {
	LWM2M_CF_TEXT = 0,
	LWM2M_CF_LINK_FORMAT = 40,
	LWM2M_CF_OPAQUE = 42,
	LWM2M_CF_SENML_JSON = 110,
	LWM2M_CF_SENML_CBOR = 112,
	LWM2M_CF_TLV_LEGACY = 1542,  /* LwM2M 1.0 TLV: same bytes as 11542 */
	LWM2M_CF_JSON_LEGACY = 1543, /* LwM2M 1.0 JSON: not supported */
	LWM2M_CF_TLV = 11542,
	LWM2M_CF_JSON = 11543, /* OMA LwM2M JSON (1.1): not supported */
};

/* True for the formats lwm2m_decode()/lwm2m_encode() handle (not 40: links
 * have their own functions below). */
bool lwm2m_content_format_supported(unsigned content_format);

/* ---- paths ---- */

/* depth 0 is the root "/", 1 an object, 2 an instance, 3 a resource, 4 a
 * resource instance; id[depth..] are unused and zero. */
struct lwm2m_path {
	uint16_t id[LWM2M_PATH_DEPTH_MAX];
	uint8_t depth;
};

struct lwm2m_path lwm2m_path_root(void);
struct lwm2m_path lwm2m_path_object(uint16_t obj);
struct lwm2m_path lwm2m_path_instance(uint16_t obj, uint16_t inst);
struct lwm2m_path lwm2m_path_resource(uint16_t obj, uint16_t inst, uint16_t res);
struct lwm2m_path lwm2m_path_resource_instance(uint16_t obj, uint16_t inst, uint16_t res,
					       uint16_t ri);
/* Parses "/3/0/1" (LEN bytes, no NUL needed): "/" or 1..4 decimal ids of at
 * most LWM2M_ID_MAX, no leading zeros, no trailing slash. */
int lwm2m_path_parse(const char *text, size_t len, struct lwm2m_path *out) IV_WUR;
/* Writes "/3/0/1" (the root as "/"); CAP >= LWM2M_PATH_TEXT_MAX always fits. */
int lwm2m_path_format(const struct lwm2m_path *path, char *buf, size_t cap) IV_WUR;
bool lwm2m_path_equal(const struct lwm2m_path *a, const struct lwm2m_path *b);
/* True when PARENT is CHILD or an ancestor of it. */
bool lwm2m_path_is_prefix(const struct lwm2m_path *parent, const struct lwm2m_path *child);
/* Every id in range and the unused ones zero. */
bool lwm2m_path_valid(const struct lwm2m_path *path);

/* ---- values ---- */

enum lwm2m_type {
	LWM2M_TYPE_NONE = 0, /* no value: see "records" below */
	LWM2M_TYPE_INTEGER,
	LWM2M_TYPE_UNSIGNED,
	LWM2M_TYPE_FLOAT,
	LWM2M_TYPE_BOOLEAN,
	LWM2M_TYPE_STRING, /* UTF-8, no NUL byte */
	LWM2M_TYPE_OPAQUE,
	LWM2M_TYPE_TIME, /* seconds since the Unix epoch, in v.i */
	LWM2M_TYPE_OBJLNK,
};

/* An object link "obj:inst"; 65535:65535 is the null link. */
struct lwm2m_objlnk {
	uint16_t obj;
	uint16_t inst;
};

struct lwm2m_value {
	enum lwm2m_type type;
	union {
		int64_t i; /* INTEGER, TIME */
		uint64_t u;
		double f;
		bool b;
		struct lwm2m_objlnk lnk;
	} v;
	/* STRING and OPAQUE. In a record list the bytes are followed by a NUL,
	 * so a STRING's bytes are also a C string. */
	const uint8_t *bytes;
	size_t len;
};

struct lwm2m_value lwm2m_value_none(void);
struct lwm2m_value lwm2m_value_integer(int64_t i);
struct lwm2m_value lwm2m_value_unsigned(uint64_t u);
struct lwm2m_value lwm2m_value_float(double f);
struct lwm2m_value lwm2m_value_boolean(bool b);
struct lwm2m_value lwm2m_value_time(int64_t seconds);
struct lwm2m_value lwm2m_value_objlnk(uint16_t obj, uint16_t inst);
/* Borrow S / DATA; lwm2m_records_add() copies them. */
struct lwm2m_value lwm2m_value_string(const char *s);
struct lwm2m_value lwm2m_value_opaque(const uint8_t *data, size_t len);

const char *lwm2m_type_name(enum lwm2m_type type);
/* Converts a numeric value in place between INTEGER, UNSIGNED, TIME and FLOAT
 * when that loses nothing (FLOAT to INTEGER only when integral and in range);
 * anything else only to its own type. IV_ERR_INVALID otherwise, V unchanged.
 * SenML carries one numeric "v", so a caller that knows the object model
 * uses this to recover the resource's type. */
int lwm2m_value_coerce(struct lwm2m_value *v, enum lwm2m_type want) IV_WUR;

/* ---- record lists ---- */

/* A record names one value. A record of type NONE means "present, no value":
 * in TLV an empty object instance (depth 2) or an empty multiple resource
 * (depth 3); in SenML a record with a name and no value (Read-Composite). */
struct lwm2m_record {
	struct lwm2m_path path;
	struct lwm2m_value value;
	/* SenML time, resolved (bt + t), as sent: values below 2^28 are
	 * relative to "now" (RFC 8428 section 4.5.3), which is the caller's. */
	bool has_time;
	double time;
};

struct lwm2m_records;

struct lwm2m_records *lwm2m_records_new(void);
/* Wipes the value bytes; NULL is a no-op. */
void lwm2m_records_free(struct lwm2m_records *recs);
/* Removes (and wipes) every record. */
void lwm2m_records_clear(struct lwm2m_records *recs);
size_t lwm2m_records_count(const struct lwm2m_records *recs);
/* NULL when I is out of range. The pointer (and its value bytes) stays valid
 * until the list is next changed. */
const struct lwm2m_record *lwm2m_records_get(const struct lwm2m_records *recs, size_t i);
/* Copies PATH and VALUE (and its bytes). Checks the path, the limits, the
 * type, that a STRING is UTF-8 without NUL, and that NONE is used only as
 * described above. */
int lwm2m_records_add(struct lwm2m_records *recs, const struct lwm2m_path *path,
		      const struct lwm2m_value *value) IV_WUR;
/* The same with a SenML time. */
int lwm2m_records_add_timed(struct lwm2m_records *recs, const struct lwm2m_path *path,
			    const struct lwm2m_value *value, double time) IV_WUR;
/* The record for exactly PATH, or NULL. */
const struct lwm2m_record *lwm2m_records_find(const struct lwm2m_records *recs,
					      const struct lwm2m_path *path);

/* ---- decoding and encoding ---- */

/* Tells a decoder the type of the resource (instance) at PATH from the object
 * model, or LWM2M_TYPE_NONE when unknown. */
typedef enum lwm2m_type (*lwm2m_type_fn)(const struct lwm2m_path *path, void *arg);

struct lwm2m_decode_ctx {
	/* The path the request addressed. Decoded records must lie under it;
	 * TLV and plain text need it to name what they carry (root for
	 * composite SenML). */
	struct lwm2m_path base;
	/* Optional. TLV values are untyped bytes: without a type they are
	 * returned as OPAQUE. Plain text without a type is a STRING. SenML
	 * numbers are INTEGER (JSON integer, CBOR integer; UNSIGNED above
	 * INT64_MAX in CBOR) or FLOAT unless a type is given, then coerced. */
	lwm2m_type_fn type_of;
	void *arg;
};

/* Decodes PAYLOAD (CONTENT_FORMAT) and appends its records to OUT.
 * IV_ERR_MEDIA_TYPE for a format lwm2m_content_format_supported() refuses. */
int lwm2m_decode(unsigned content_format, const uint8_t *payload, size_t len,
		 const struct lwm2m_decode_ctx *ctx, struct lwm2m_records *out) IV_WUR;
/* Encodes every record of IN, which must lie under BASE (the path of the
 * request or response), into BUF. TLV groups records by instance and resource
 * (records of one instance or resource must be adjacent; a path twice is
 * IV_ERR_INVALID); text and opaque carry exactly one record at BASE. */
int lwm2m_encode(unsigned content_format, const struct lwm2m_path *base,
		 const struct lwm2m_records *in, uint8_t *buf, size_t cap,
		 size_t *out_len) IV_WUR;

/* Request path /obj: object instance TLVs; /obj/inst: resource and multiple
 * resource TLVs (or one object instance TLV of that id); /obj/inst/res: that
 * resource, or bare resource instances; /obj/inst/res/ri: that instance. An
 * id appears once per container (an instance given twice is IV_ERR_INVALID).
 * Integers are written in the fewest of 1/2/4/8 bytes, unsigned ones so that
 * a signed reader gets them right too; floats in 4 bytes when exact. */
int lwm2m_tlv_decode(const uint8_t *payload, size_t len, const struct lwm2m_decode_ctx *ctx,
		     struct lwm2m_records *out) IV_WUR;
int lwm2m_tlv_encode(const struct lwm2m_path *base, const struct lwm2m_records *in,
		     uint8_t *buf, size_t cap, size_t *out_len) IV_WUR;
/* Interprets the value bytes of one TLV as TYPE (integers 1/2/4/8 bytes big
 * endian, float 4/8, boolean 1, objlnk 4; strings must be UTF-8). BYTES are
 * borrowed by a STRING or OPAQUE result. */
int lwm2m_tlv_value_parse(const uint8_t *bytes, size_t len, enum lwm2m_type type,
			  struct lwm2m_value *out) IV_WUR;

/* Base names and times carry over to later records (RFC 8428 section 4.5);
 * "bv", "bs", "s" and fields ending in "_" are refused, "u", "ut", "bu" and
 * unknown fields ignored. The encoder writes "bn" once (the base path, with a
 * trailing "/" unless a record is the base itself) and relative "n"; it
 * refuses (IV_ERR_INVALID) UNSIGNED values above INT64_MAX and non-finite
 * floats, which jansson cannot write exactly; SenML CBOR carries both. */
int lwm2m_senml_json_decode(const uint8_t *payload, size_t len,
			    const struct lwm2m_decode_ctx *ctx, struct lwm2m_records *out) IV_WUR;
int lwm2m_senml_json_encode(const struct lwm2m_path *base, const struct lwm2m_records *in,
			    uint8_t *buf, size_t cap, size_t *out_len) IV_WUR;

/* Definite and indefinite arrays and maps are read; tags, indefinite strings
 * and container values are IV_ERR_INVALID; a declared array longer than
 * LWM2M_RECORDS_MAX is IV_ERR_TOO_LARGE before anything is allocated. */
int lwm2m_senml_cbor_decode(const uint8_t *payload, size_t len,
			    const struct lwm2m_decode_ctx *ctx, struct lwm2m_records *out) IV_WUR;
int lwm2m_senml_cbor_encode(const struct lwm2m_path *base, const struct lwm2m_records *in,
			    uint8_t *buf, size_t cap, size_t *out_len) IV_WUR;

/* Plain text (LwM2M 1.1 section 7.3): decimal integers, floats, "0"/"1" for
 * booleans, "obj:inst" for object links, base64 for opaque. */
int lwm2m_text_decode(const uint8_t *payload, size_t len, const struct lwm2m_decode_ctx *ctx,
		      struct lwm2m_records *out) IV_WUR;
int lwm2m_text_encode(const struct lwm2m_path *base, const struct lwm2m_records *in,
		      uint8_t *buf, size_t cap, size_t *out_len) IV_WUR;
int lwm2m_opaque_decode(const uint8_t *payload, size_t len,
			const struct lwm2m_decode_ctx *ctx, struct lwm2m_records *out) IV_WUR;
int lwm2m_opaque_encode(const struct lwm2m_path *base, const struct lwm2m_records *in,
			uint8_t *buf, size_t cap, size_t *out_len) IV_WUR;

/* ---- CoRE link-format (RFC 6690) ---- */

struct lwm2m_link_attr {
	const char *name;
	const char *value; /* NULL for an attribute without "=" (e.g. "obs") */
	bool quoted;       /* was (or will be written as) a quoted-string */
};

struct lwm2m_link {
	const char *uri;      /* between < and > */
	bool has_path;        /* URI is an LwM2M path ("/" included) */
	struct lwm2m_path path;
	size_t attr_count;
	const struct lwm2m_link_attr *attrs;
};

struct lwm2m_links;

struct lwm2m_links *lwm2m_links_new(void);
void lwm2m_links_free(struct lwm2m_links *links);
size_t lwm2m_links_count(const struct lwm2m_links *links);
/* Valid until the list is next changed. */
const struct lwm2m_link *lwm2m_links_get(const struct lwm2m_links *links, size_t i);
/* Appends a link to URI (printable ASCII without <, > or ", at most
 * LWM2M_LINK_URI_MAX bytes). */
int lwm2m_links_add(struct lwm2m_links *links, const char *uri) IV_WUR;
/* Adds an attribute to the last link; VALUE may be NULL. A name twice on one
 * link is IV_ERR_INVALID. Values that are not a plain number are written as
 * quoted-strings. */
int lwm2m_links_add_attr(struct lwm2m_links *links, const char *name, const char *value) IV_WUR;
/* The attribute NAME of LINK, or NULL. */
const struct lwm2m_link_attr *lwm2m_link_attr_find(const struct lwm2m_link *link,
						   const char *name);

/* Parses "</>;rt=\"oma.lwm2m\";ct=110,</1/0>,</3/0>" and appends to OUT
 * (unchanged on failure). Optional white space is allowed after a comma. */
int lwm2m_linkformat_parse(const uint8_t *payload, size_t len, struct lwm2m_links *out) IV_WUR;
int lwm2m_linkformat_encode(const struct lwm2m_links *links, uint8_t *buf, size_t cap,
			    size_t *out_len) IV_WUR;

#endif
