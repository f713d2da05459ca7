/* POST /api/v1/devices/import: bulk import from a multipart/form-data upload
 * (part "file", optional parts "format", "policy", "dry_run") or from a raw
 * text/csv or application/json body (options in the query string). The
 * upload is parsed where the server buffered it, in memory, and is never
 * written anywhere; the server wipes the buffer when the request completes.
 *
 * The multipart reader is deliberately small: the server hands handlers the
 * whole body, so libmicrohttpd's incremental post processor would only add a
 * second copy. Everything goes through the cursor type with fixed limits. */
#include "iotvault/cursor.h"
#include "iotvault/http.h"
#include "iotvault/import.h"
#include "iotvault/log.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define BOUNDARY_MAX 70 /* RFC 2046 */
#define PART_HEADERS_MAX 2048
#define PARTS_MAX 8
#define PART_NAME_MAX 32
#define OPTION_VALUE_MAX 16

struct part {
	char name[PART_NAME_MAX];
	char ctype[64];
	const uint8_t *data;
	size_t len;
};

/* Position of NEEDLE in C's remaining bytes, without consuming; -1 if none. */
static long cursor_find(const struct cursor *c, const char *needle, size_t nlen)
{
	struct cursor probe = *c;
	const uint8_t *rest;
	size_t avail = cursor_remaining(c);
	const uint8_t *hit;

	if (nlen == 0 || avail < nlen || cursor_view(&probe, &rest, avail) != 0)
		return -1;
	hit = memmem(rest, avail, needle, nlen);
	return hit ? (long)(hit - rest) : -1;
}

/* Consumes LIT if C starts with it. */
static int cursor_accept(struct cursor *c, const char *lit)
{
	struct cursor probe = *c;
	const uint8_t *got;
	size_t n = strlen(lit);
	if (cursor_view(&probe, &got, n) != 0 || memcmp(got, lit, n) != 0) /* lint:not-secret */
		return 0;
	*c = probe;
	return 1;
}

/* The boundary parameter of a multipart/form-data Content-Type. */
static int boundary_of(const char *ctype, char out[BOUNDARY_MAX + 1])
{
	const char *p = strcasestr(ctype, "boundary=");
	size_t n = 0;
	int quoted;

	if (p == NULL)
		return IV_ERR_INVALID;
	p += 9;
	quoted = *p == '"';
	p += quoted;
	while (p[n] && (quoted ? p[n] != '"' : (p[n] != ';' && p[n] != ' ')))
		n++;
	if (n == 0 || n > BOUNDARY_MAX || (quoted && p[n] != '"'))
		return IV_ERR_INVALID;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] < 0x20 || (unsigned char)p[i] > 0x7e)
			return IV_ERR_INVALID;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

/* name="..." of a Content-Disposition: form-data header value. */
static int disposition_name(const char *value, char *out, size_t cap)
{
	const char *p = value;
	size_t n = 0;
	if (strncasecmp(p, "form-data", 9) != 0)
		return IV_ERR_INVALID;
	while ((p = strstr(p, "name=\"")) != NULL) {
		/* not the tail of filename="..." */
		if (p == value || p[-1] == ' ' || p[-1] == ';')
			break;
		p += 6;
	}
	if (p == NULL)
		return IV_ERR_INVALID;
	p += 6;
	while (p[n] && p[n] != '"')
		n++;
	if (p[n] != '"' || n == 0 || n >= cap)
		return IV_ERR_INVALID;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

/* Parses one part's header block (without the blank line). */
static int part_headers(const uint8_t *h, size_t len, struct part *part)
{
	char text[PART_HEADERS_MAX + 1], *save = NULL;
	int have_name = 0;

	if (len > PART_HEADERS_MAX)
		return IV_ERR_TOO_LARGE;
	memcpy(text, h, len);
	text[len] = '\0';
	if (strlen(text) != len)
		return IV_ERR_INVALID;
	for (char *line = strtok_r(text, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
		char *colon = strchr(line, ':'), *value;
		if (colon == NULL)
			return IV_ERR_INVALID;
		*colon = '\0';
		for (value = colon + 1; *value == ' ' || *value == '\t'; value++)
			;
		if (strcasecmp(line, "Content-Disposition") == 0) {
			if (disposition_name(value, part->name, sizeof(part->name)) != 0)
				return IV_ERR_INVALID;
			have_name = 1;
		} else if (strcasecmp(line, "Content-Type") == 0)
			snprintf(part->ctype, sizeof(part->ctype), "%s", value);
	}
	return have_name ? 0 : IV_ERR_INVALID;
}

static int multipart_parse(const uint8_t *body, size_t len, const char *boundary,
			   struct part parts[PARTS_MAX], size_t *nparts, const char **why)
{
	char delim[BOUNDARY_MAX + 5];
	struct cursor c;
	const uint8_t *p;
	size_t dlen;
	long at;

	*nparts = 0;
	dlen = (size_t)snprintf(delim, sizeof(delim), "\r\n--%s", boundary);
	cursor_init(&c, body, len);
	/* the first delimiter may open the body, without the CRLF before it */
	if (!cursor_accept(&c, delim + 2)) {
		if ((at = cursor_find(&c, delim, dlen)) < 0) {
			*why = "multipart body without its boundary";
			return IV_ERR_INVALID;
		}
		if (cursor_view(&c, &p, (size_t)at + dlen) != 0)
			return IV_ERR_INTERNAL;
	}
	for (;;) {
		struct part *part;
		if (cursor_accept(&c, "--"))
			return *nparts ? 0 : (*why = "multipart body without parts", IV_ERR_INVALID);
		if (!cursor_accept(&c, "\r\n")) {
			*why = "malformed multipart delimiter";
			return IV_ERR_INVALID;
		}
		if (*nparts == PARTS_MAX) {
			*why = "too many multipart parts";
			return IV_ERR_INVALID;
		}
		part = &parts[(*nparts)++];
		memset(part, 0, sizeof(*part));
		if ((at = cursor_find(&c, "\r\n\r\n", 4)) < 0 || at > PART_HEADERS_MAX) {
			*why = "multipart part headers missing or too long";
			return IV_ERR_INVALID;
		}
		if (cursor_view(&c, &p, (size_t)at) != 0 || part_headers(p, (size_t)at, part) != 0) {
			*why = "multipart part without a form-data name";
			return IV_ERR_INVALID;
		}
		if (!cursor_accept(&c, "\r\n\r\n"))
			return IV_ERR_INTERNAL;
		if ((at = cursor_find(&c, delim, dlen)) < 0) {
			*why = "multipart part not closed by the boundary";
			return IV_ERR_INVALID;
		}
		if (cursor_view(&c, &part->data, (size_t)at) != 0 || cursor_view(&c, &p, dlen) != 0)
			return IV_ERR_INTERNAL;
		part->len = (size_t)at;
	}
}

/* A short text option from a part, as a C string. */
static int part_text(const struct part *part, char out[OPTION_VALUE_MAX])
{
	if (part->len == 0 || part->len >= OPTION_VALUE_MAX || memchr(part->data, 0, part->len))
		return IV_ERR_INVALID;
	memcpy(out, part->data, part->len);
	out[part->len] = '\0';
	return 0;
}

static int parse_bool(const char *s, int *out)
{
	if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0)
		*out = 1;
	else if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0)
		*out = 0;
	else
		return IV_ERR_INVALID;
	return 0;
}

/* Sets OPT from one named value, from the query string or a part. */
static int apply_option(struct import_options *opt, const char *name, const char *value,
			int *format_given, const char **why)
{
	if (strcmp(name, "format") == 0) {
		*format_given = 1;
		if (import_format_parse(value, &opt->format) != 0)
			return *why = "format: csv or json", IV_ERR_INVALID;
	} else if (strcmp(name, "policy") == 0) {
		if (key_policy_parse(value, &opt->policy) != 0)
			return *why = "policy: reject, flag or regenerate", IV_ERR_INVALID;
	} else if (strcmp(name, "dry_run") == 0) {
		if (parse_bool(value, &opt->dry_run) != 0)
			return *why = "dry_run: true or false", IV_ERR_INVALID;
	} else
		return *why = "unknown form field (file, format, policy, dry_run)", IV_ERR_INVALID;
	return 0;
}

static int media_is(const char *ctype, const char *type)
{
	size_t n = strlen(type);
	return ctype && strncasecmp(ctype, type, n) == 0 && (ctype[n] == '\0' || ctype[n] == ';');
}

static json_t *errors_to_fields(const struct import_result *res)
{
	json_t *fields = json_array();
	for (size_t i = 0; i < res->nerrors; i++) {
		const struct import_error *e = &res->errors[i];
		json_t *j = json_object();
		json_object_set_new(j, "row", json_integer((json_int_t)e->row));
		json_object_set_new(j, "field", json_string(e->column));
		json_object_set_new(j, "code", json_string(e->code));
		json_object_set_new(j, "message", json_string(e->message));
		json_array_append_new(fields, j);
	}
	return fields;
}

static int import_devices(struct http_request *req, struct http_reply *rep)
{
	struct import_options opt = {0};
	struct import_result res;
	struct audit_actor actor;
	struct import_source src = {0};
	struct part parts[PARTS_MAX];
	const char *ctype = http_header(req, "Content-Type");
	const char *why = NULL;
	const char *const query_opts[] = {"format", "policy", "dry_run"};
	char boundary[BOUNDARY_MAX + 1], value[OPTION_VALUE_MAX];
	size_t nparts = 0;
	int r, format_given = 0, have_result = 0;

	opt.tenant_id = req->who.tenant_id;
	opt.policy = KEY_POLICY_REJECT;
	for (size_t i = 0; i < sizeof(query_opts) / sizeof(query_opts[0]); i++) {
		const char *q = http_query(req, query_opts[i]);
		if (q && (r = apply_option(&opt, query_opts[i], q, &format_given, &why)) != 0)
			goto fail;
	}
	if (media_is(ctype, "multipart/form-data")) {
		const struct part *file = NULL;
		if (boundary_of(ctype, boundary) != 0) {
			why = "multipart/form-data without a usable boundary";
			r = IV_ERR_INVALID;
			goto fail;
		}
		if ((r = multipart_parse(req->body, req->body_len, boundary, parts, &nparts, &why)) != 0)
			goto fail;
		for (size_t i = 0; i < nparts; i++) {
			if (strcmp(parts[i].name, "file") == 0) {
				if (file != NULL) {
					why = "more than one file part";
					r = IV_ERR_INVALID;
					goto fail;
				}
				file = &parts[i];
				continue;
			}
			if (part_text(&parts[i], value) != 0) {
				why = "form fields format, policy and dry_run are short text";
				r = IV_ERR_INVALID;
				goto fail;
			}
			if ((r = apply_option(&opt, parts[i].name, value, &format_given, &why)) != 0)
				goto fail;
		}
		if (file == NULL) {
			why = "a form field named \"file\" with the CSV or JSON file is required";
			r = IV_ERR_INVALID;
			goto fail;
		}
		/* the file part's own type decides when the format was not given */
		if (!format_given && (media_is(file->ctype, "application/json") ||
				      media_is(file->ctype, "text/json")))
			opt.format = IMPORT_FORMAT_JSON;
		src.data = file->data;
		src.len = file->len;
	} else if (media_is(ctype, "text/csv") || media_is(ctype, "application/csv")) {
		if (format_given && opt.format != IMPORT_FORMAT_CSV) {
			why = "format=json with a text/csv body";
			r = IV_ERR_INVALID;
			goto fail;
		}
		opt.format = IMPORT_FORMAT_CSV;
		src.data = req->body;
		src.len = req->body_len;
	} else if (media_is(ctype, "application/json")) {
		if (format_given && opt.format != IMPORT_FORMAT_JSON) {
			why = "format=csv with an application/json body";
			r = IV_ERR_INVALID;
			goto fail;
		}
		opt.format = IMPORT_FORMAT_JSON;
		src.data = req->body;
		src.len = req->body_len;
	} else {
		rep->error_message = "the body must be multipart/form-data, text/csv or application/json";
		return IV_ERR_MEDIA_TYPE;
	}
	if (src.len == 0) {
		why = "the file is empty";
		r = IV_ERR_INVALID;
		goto fail;
	}
	/* a zero-length buffer is not "no buffer" to the engine */
	if (src.data == NULL)
		src.data = (const uint8_t *)"";
	if ((r = import_result_init(&res)) != 0)
		return r;
	have_result = 1;
	actor = http_actor(req);
	r = import_run(req->svc->v, &actor, &opt, &src, &res);
	if (r != 0 && res.errors_total == 0) {
		/* the store or the vault failed: the server's usual error reply */
		import_result_clear(&res);
		return r;
	}
	rep->body = json_object();
	json_object_set_new(rep->body, "import", import_result_to_json(&opt, &res));
	if (r != 0) {
		/* the standard error object, with the import's counts beside it */
		json_object_set_new(rep->body, "error",
				    json_pack("{s:s, s:s, s:o}", "code", iv_error_name(r), "message",
					      "import refused: nothing was imported", "fields",
					      errors_to_fields(&res)));
		rep->status = iv_error_http_status(r);
	} else
		rep->status = opt.dry_run ? 200 : 201;
	import_result_clear(&res);
	return 0;
fail:
	if (have_result)
		import_result_clear(&res);
	rep->error_message = why;
	return r;
}

const struct route import_routes[] = {
	{"POST", "/api/v1/devices/import", import_devices, ROLE_ADMIN | ROLE_OPERATOR,
	 ROUTE_LARGE_BODY},
	{NULL, NULL, NULL, 0, 0},
};
