/* CoRE link-format (RFC 6690, Content-Format 40) as LwM2M uses it: the
 * object list a client sends at registration ("</>;rt=\"oma.lwm2m\";ct=110,
 * </1/0>,</3/0>") and what Discover returns ("</3/0/7>;dim=2;pmin=10").
 * Parsed into (URI, attributes) with the limits of lwm2m_content.h; URIs and
 * attribute values are printable ASCII, which is all LwM2M puts there. */
#include "content_internal.h"

#include <stdlib.h>
#include <string.h>

#include "iotvault/cursor.h"

struct link_slot {
	struct lwm2m_link link;
	char *uri;
	struct lwm2m_link_attr *attrs;
};

struct lwm2m_links {
	struct link_slot *items;
	size_t count;
	size_t cap;
};

struct lwm2m_links *lwm2m_links_new(void)
{
	return calloc(1, sizeof(struct lwm2m_links));
}

static void slot_clear(struct link_slot *s)
{
	for (size_t i = 0; i < s->link.attr_count; i++) {
		free((char *)s->attrs[i].name);
		free((char *)s->attrs[i].value);
	}
	free(s->attrs);
	free(s->uri);
	memset(s, 0, sizeof(*s));
}

static void links_truncate(struct lwm2m_links *links, size_t count)
{
	while (links->count > count)
		slot_clear(&links->items[--links->count]);
}

void lwm2m_links_free(struct lwm2m_links *links)
{
	if (links == NULL)
		return;
	links_truncate(links, 0);
	free(links->items);
	free(links);
}

size_t lwm2m_links_count(const struct lwm2m_links *links) { return links ? links->count : 0; }

const struct lwm2m_link *lwm2m_links_get(const struct lwm2m_links *links, size_t i)
{
	return links && i < links->count ? &links->items[i].link : NULL;
}

const struct lwm2m_link_attr *lwm2m_link_attr_find(const struct lwm2m_link *link,
						   const char *name)
{
	for (size_t i = 0; link && name && i < link->attr_count; i++)
		if (strcmp(link->attrs[i].name, name) == 0)
			return &link->attrs[i];
	return NULL;
}

/* ---- character classes (RFC 6690 section 2, RFC 5988 parmname) ---- */

static bool is_alnum(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_name_char(uint8_t c)
{
	return is_alnum(c) || (c && strchr("!#$&+-.^_`|~", c) != NULL);
}

static bool is_ptoken_char(uint8_t c)
{
	return is_alnum(c) || (c && strchr("!#$%&'()*+-./:<=>?@[]^_`{|}~", c) != NULL);
}

static bool is_uri_char(uint8_t c)
{
	return c > 0x20 && c < 0x7F && c != '<' && c != '>' && c != '"';
}

/* What a quoted-string may hold once unescaped. */
static bool is_qtext(uint8_t c) { return c >= 0x20 && c < 0x7F; }

static bool text_all(const char *s, bool (*pred)(uint8_t))
{
	for (; *s; s++)
		if (!pred((uint8_t)*s))
			return false;
	return true;
}

/* Numbers (pmin=10, gt=20.5, ct=110) are written bare, anything else quoted. */
static bool is_plain_number(const char *s)
{
	return *s && strspn(s, "0123456789.-") == strlen(s);
}

/* ---- building ---- */

static char *dup_text(const char *s, size_t len)
{
	char *d = malloc(len + 1);
	if (d) {
		memcpy(d, s, len);
		d[len] = '\0';
	}
	return d;
}

static int links_add(struct lwm2m_links *links, const char *uri, size_t len)
{
	struct link_slot *s;

	if (links->count >= LWM2M_LINKS_MAX)
		return IV_ERR_TOO_LARGE;
	if (links->count == links->cap) {
		size_t ncap = links->cap ? links->cap * 2 : 8;
		struct link_slot *n = realloc(links->items, ncap * sizeof(*n));
		if (n == NULL)
			return IV_ERR_NOMEM;
		links->items = n;
		links->cap = ncap;
	}
	s = &links->items[links->count];
	memset(s, 0, sizeof(*s));
	s->uri = dup_text(uri, len);
	if (s->uri == NULL)
		return IV_ERR_NOMEM;
	s->link.uri = s->uri;
	s->link.has_path = lwm2m_path_parse(s->uri, len, &s->link.path) == 0;
	if (!s->link.has_path)
		s->link.path = lwm2m_path_root();
	links->count++;
	return 0;
}

static int links_add_attr(struct lwm2m_links *links, const char *name, size_t name_len,
			  const char *value, size_t value_len, bool quoted)
{
	struct link_slot *s;
	struct lwm2m_link_attr *a, *grown;
	char *n, *v = NULL;

	if (links->count == 0)
		return IV_ERR_INVALID;
	s = &links->items[links->count - 1];
	if (s->link.attr_count >= LWM2M_LINK_ATTRS_MAX)
		return IV_ERR_TOO_LARGE;
	n = dup_text(name, name_len);
	if (n == NULL)
		return IV_ERR_NOMEM;
	if (lwm2m_link_attr_find(&s->link, n) != NULL) {
		free(n);
		return IV_ERR_INVALID;
	}
	if (value && (v = dup_text(value, value_len)) == NULL) {
		free(n);
		return IV_ERR_NOMEM;
	}
	grown = realloc(s->attrs, (s->link.attr_count + 1) * sizeof(*grown));
	if (grown == NULL) {
		free(n);
		free(v);
		return IV_ERR_NOMEM;
	}
	s->attrs = grown;
	s->link.attrs = grown;
	a = &grown[s->link.attr_count++];
	a->name = n;
	a->value = v;
	a->quoted = v != NULL && quoted;
	return 0;
}

int lwm2m_links_add(struct lwm2m_links *links, const char *uri)
{
	size_t len;

	if (links == NULL || uri == NULL)
		return IV_ERR_INVALID;
	len = strlen(uri);
	if (len > LWM2M_LINK_URI_MAX)
		return IV_ERR_TOO_LARGE;
	if (len == 0 || !text_all(uri, is_uri_char))
		return IV_ERR_INVALID;
	return links_add(links, uri, len);
}

int lwm2m_links_add_attr(struct lwm2m_links *links, const char *name, const char *value)
{
	if (links == NULL || name == NULL)
		return IV_ERR_INVALID;
	if (strlen(name) > LWM2M_LINK_ATTR_NAME_MAX || (value && strlen(value) > LWM2M_LINK_ATTR_VALUE_MAX))
		return IV_ERR_TOO_LARGE;
	if (!*name || !text_all(name, is_name_char) || (value && !text_all(value, is_qtext)))
		return IV_ERR_INVALID;
	return links_add_attr(links, name, strlen(name), value, value ? strlen(value) : 0,
			      value && !is_plain_number(value));
}

/* ---- parsing ---- */

static int peek(const struct cursor *c, uint8_t *ch)
{
	struct cursor t = *c;
	return cursor_read_u8(&t, ch);
}

/* Reads bytes while PRED holds into OUT (at most MAX); at least one. */
static int read_run(struct cursor *c, bool (*pred)(uint8_t), char *out, size_t max, size_t *len)
{
	uint8_t ch;
	size_t n = 0;

	while (peek(c, &ch) == 0 && pred(ch)) {
		if (n == max)
			return IV_ERR_TOO_LARGE;
		if (cursor_read_u8(c, &ch) != 0)
			return IV_ERR_INTERNAL;
		out[n++] = (char)ch;
	}
	*len = n;
	return 0;
}

static int read_quoted(struct cursor *c, char *out, size_t max, size_t *len)
{
	uint8_t ch;
	size_t n = 0;
	int r;

	for (;;) {
		if ((r = cursor_read_u8(c, &ch)) != 0)
			return r;
		if (ch == '"')
			break;
		if (ch == '\\' && (r = cursor_read_u8(c, &ch)) != 0)
			return r;
		if (!is_qtext(ch))
			return IV_ERR_INVALID;
		if (n == max)
			return IV_ERR_TOO_LARGE;
		out[n++] = (char)ch;
	}
	*len = n;
	return 0;
}

static int parse_attr(struct cursor *c, struct lwm2m_links *links)
{
	char name[LWM2M_LINK_ATTR_NAME_MAX], value[LWM2M_LINK_ATTR_VALUE_MAX];
	size_t name_len, value_len = 0;
	bool has_value = false, quoted = false;
	uint8_t ch;
	int r;

	if ((r = read_run(c, is_name_char, name, sizeof(name), &name_len)) != 0)
		return r;
	if (name_len == 0)
		return cursor_remaining(c) ? IV_ERR_INVALID : IV_ERR_TRUNCATED;
	if (peek(c, &ch) == 0 && ch == '=') {
		if (cursor_read_u8(c, &ch) != 0)
			return IV_ERR_INTERNAL;
		has_value = true;
		if ((r = peek(c, &ch)) != 0)
			return r;
		if (ch == '"') {
			quoted = true;
			if (cursor_read_u8(c, &ch) != 0)
				return IV_ERR_INTERNAL;
			r = read_quoted(c, value, sizeof(value), &value_len);
		} else {
			r = read_run(c, is_ptoken_char, value, sizeof(value), &value_len);
			if (r == 0 && value_len == 0)
				r = IV_ERR_INVALID;
		}
		if (r)
			return r;
	}
	return links_add_attr(links, name, name_len, has_value ? value : NULL, value_len, quoted);
}

static int parse_link(struct cursor *c, struct lwm2m_links *links)
{
	char uri[LWM2M_LINK_URI_MAX];
	size_t len;
	uint8_t ch;
	int r;

	if ((r = cursor_read_u8(c, &ch)) != 0)
		return r;
	if (ch != '<')
		return IV_ERR_INVALID;
	if ((r = read_run(c, is_uri_char, uri, sizeof(uri), &len)) != 0)
		return r;
	if ((r = cursor_read_u8(c, &ch)) != 0)
		return r;
	if (ch != '>' || len == 0)
		return IV_ERR_INVALID;
	if ((r = links_add(links, uri, len)) != 0)
		return r;
	while (peek(c, &ch) == 0 && ch == ';') {
		if (cursor_read_u8(c, &ch) != 0)
			return IV_ERR_INTERNAL;
		if ((r = parse_attr(c, links)) != 0)
			return r;
	}
	return 0;
}

static bool is_ows(uint8_t c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

int lwm2m_linkformat_parse(const uint8_t *payload, size_t len, struct lwm2m_links *out)
{
	struct cursor c;
	size_t start;
	uint8_t ch;
	int r = 0;

	if (out == NULL || (payload == NULL && len))
		return IV_ERR_INVALID;
	if (len > LWM2M_PAYLOAD_MAX)
		return IV_ERR_TOO_LARGE;
	start = out->count;
	cursor_init(&c, payload, len);
	if (len == 0)
		return 0;
	for (;;) {
		if ((r = parse_link(&c, out)) != 0)
			goto out;
		if (cursor_remaining(&c) == 0)
			break;
		if ((r = cursor_read_u8(&c, &ch)) != 0)
			goto out;
		if (ch != ',') {
			r = IV_ERR_INVALID;
			goto out;
		}
		while (peek(&c, &ch) == 0 && is_ows(ch))
			if ((r = cursor_read_u8(&c, &ch)) != 0)
				goto out;
	}
	/* success */
	r = 0;
out:
	if (r)
		links_truncate(out, start);
	return r;
}

/* ---- serialising ---- */

static int put_text(struct writer *w, const char *s)
{
	return writer_put_bytes(w, s, strlen(s));
}

int lwm2m_linkformat_encode(const struct lwm2m_links *links, uint8_t *buf, size_t cap,
			    size_t *out_len)
{
	struct writer w;
	int r;

	if (links == NULL || out_len == NULL)
		return IV_ERR_INVALID;
	writer_init(&w, buf, cap);
	for (size_t i = 0; i < links->count; i++) {
		const struct lwm2m_link *l = &links->items[i].link;
		if ((i && (r = writer_put_u8(&w, ',')) != 0) || (r = writer_put_u8(&w, '<')) != 0 ||
		    (r = put_text(&w, l->uri)) != 0 || (r = writer_put_u8(&w, '>')) != 0)
			return r;
		for (size_t j = 0; j < l->attr_count; j++) {
			const struct lwm2m_link_attr *a = &l->attrs[j];
			bool quote = a->quoted || (a->value && !text_all(a->value, is_ptoken_char)) ||
				     (a->value && !*a->value);
			if ((r = writer_put_u8(&w, ';')) != 0 || (r = put_text(&w, a->name)) != 0)
				return r;
			if (a->value == NULL)
				continue;
			if ((r = writer_put_u8(&w, '=')) != 0)
				return r;
			if (!quote) {
				if ((r = put_text(&w, a->value)) != 0)
					return r;
				continue;
			}
			if ((r = writer_put_u8(&w, '"')) != 0)
				return r;
			for (const char *p = a->value; *p; p++) {
				if ((*p == '"' || *p == '\\') && (r = writer_put_u8(&w, '\\')) != 0)
					return r;
				if ((r = writer_put_u8(&w, (uint8_t)*p)) != 0)
					return r;
			}
			if ((r = writer_put_u8(&w, '"')) != 0)
				return r;
		}
	}
	*out_len = w.len;
	return 0;
}
