/* LoRaWAN PHYPayload codec: MHDR, JoinRequest, RejoinRequest (types 0/1/2),
 * plaintext JoinAccept and data frames, parsed and built through the cursor
 * type only. EUIs and integers are converted between the little-endian wire
 * and the human order of the structures (see include/iotvault/lorawan.h). */
#include "iotvault/lorawan.h"

#include <string.h>

#include "iotvault/cursor.h"

#define MHDR_MAJOR_R1 0
#define MAX_24BIT 0xFFFFFFu

bool lorawan_mtype_is_data(enum lorawan_mtype t)
{
	return t >= LORAWAN_MTYPE_UNCONFIRMED_UP && t <= LORAWAN_MTYPE_CONFIRMED_DOWN;
}

bool lorawan_mtype_is_uplink(enum lorawan_mtype t)
{
	return t == LORAWAN_MTYPE_JOIN_REQUEST || t == LORAWAN_MTYPE_REJOIN_REQUEST ||
	       t == LORAWAN_MTYPE_UNCONFIRMED_UP || t == LORAWAN_MTYPE_CONFIRMED_UP;
}

/* EUIs are little-endian on the wire and big-endian as written by humans. */
static int read_eui(struct cursor *c, uint8_t out[static LORAWAN_EUI_LEN])
{
	uint8_t wire[LORAWAN_EUI_LEN];
	int r = cursor_read_bytes(c, wire, sizeof(wire));
	if (r)
		return r;
	for (size_t i = 0; i < LORAWAN_EUI_LEN; i++)
		out[i] = wire[LORAWAN_EUI_LEN - 1 - i];
	return 0;
}

static int put_eui(struct writer *w, const uint8_t eui[static LORAWAN_EUI_LEN])
{
	uint8_t wire[LORAWAN_EUI_LEN];
	for (size_t i = 0; i < LORAWAN_EUI_LEN; i++)
		wire[i] = eui[LORAWAN_EUI_LEN - 1 - i];
	return writer_put_bytes(w, wire, sizeof(wire));
}

static int parse_join_request(struct cursor *c, struct lorawan_join_request *jr)
{
	int r;
	if ((r = read_eui(c, jr->join_eui)) || (r = read_eui(c, jr->dev_eui)) ||
	    (r = cursor_read_u16le(c, &jr->dev_nonce)))
		return r;
	return cursor_expect_end(c);
}

static int parse_rejoin_request(struct cursor *c, struct lorawan_rejoin_request *rj)
{
	int r;
	if ((r = cursor_read_u8(c, &rj->type)))
		return r;
	switch (rj->type) {
	case 0:
	case 2:
		r = cursor_read_u24le(c, &rj->net_id);
		break;
	case 1:
		r = read_eui(c, rj->join_eui);
		break;
	default:
		return IV_ERR_INVALID;
	}
	if (r || (r = read_eui(c, rj->dev_eui)) || (r = cursor_read_u16le(c, &rj->rj_count)))
		return r;
	return cursor_expect_end(c);
}

static int parse_join_accept(struct cursor *c, struct lorawan_join_accept *ja)
{
	int r;
	size_t rest;
	if ((r = cursor_read_u24le(c, &ja->join_nonce)) || (r = cursor_read_u24le(c, &ja->net_id)) ||
	    (r = cursor_read_u32le(c, &ja->dev_addr)) || (r = cursor_read_u8(c, &ja->dl_settings)) ||
	    (r = cursor_read_u8(c, &ja->rx_delay)))
		return r;
	rest = cursor_remaining(c);
	if (rest == 0)
		return 0;
	/* The CFList is all or nothing: a partial one is a cut-off frame. */
	if ((r = cursor_read_bytes(c, ja->cflist, LORAWAN_CFLIST_LEN)))
		return r;
	ja->has_cflist = true;
	return cursor_expect_end(c);
}

static int parse_data(struct cursor *c, struct lorawan_data_frame *d)
{
	int r;
	uint8_t fctrl;
	if ((r = cursor_read_u32le(c, &d->dev_addr)) || (r = cursor_read_u8(c, &fctrl)) ||
	    (r = cursor_read_u16le(c, &d->fcnt)))
		return r;
	d->fctrl = fctrl & LORAWAN_FCTRL_FLAGS_MASK;
	d->fopts_len = fctrl & 0x0F;
	if ((r = cursor_read_bytes(c, d->fopts, d->fopts_len)))
		return r;
	if (cursor_remaining(c) == 0)
		return 0;
	d->has_fport = true;
	if ((r = cursor_read_u8(c, &d->fport)))
		return r;
	/* MAC commands go either in FOpts or in an FPort 0 payload, never both;
	 * the specification has such frames discarded. */
	if (d->fport == 0 && d->fopts_len > 0)
		return IV_ERR_INVALID;
	d->frm_payload_len = cursor_remaining(c);
	if (d->frm_payload_len > LORAWAN_FRM_PAYLOAD_MAX)
		return IV_ERR_TOO_LARGE;
	return cursor_read_bytes(c, d->frm_payload, d->frm_payload_len);
}

int lorawan_frame_parse(const uint8_t *phy, size_t len, struct lorawan_frame *out)
{
	struct cursor c, body;
	const uint8_t *body_bytes;
	size_t body_len;
	uint8_t mhdr;
	int r;

	memset(out, 0, sizeof(*out));
	if (phy == NULL && len != 0)
		return IV_ERR_INVALID;
	if (len > LORAWAN_PHY_PAYLOAD_MAX)
		return IV_ERR_TOO_LARGE;
	cursor_init(&c, phy, len);
	if ((r = cursor_read_u8(&c, &mhdr)))
		goto out;
	if ((mhdr & 0x03) != MHDR_MAJOR_R1) {
		r = IV_ERR_INVALID;
		goto out;
	}
	out->mtype = (enum lorawan_mtype)(mhdr >> 5);
	out->rfu = (mhdr >> 2) & 0x07;
	if (out->mtype == LORAWAN_MTYPE_PROPRIETARY) {
		r = IV_ERR_INVALID;
		goto out;
	}
	if (cursor_remaining(&c) < LORAWAN_MIC_LEN) {
		r = IV_ERR_TRUNCATED;
		goto out;
	}
	body_len = cursor_remaining(&c) - LORAWAN_MIC_LEN;
	if ((r = cursor_view(&c, &body_bytes, body_len)) ||
	    (r = cursor_read_bytes(&c, out->mic, LORAWAN_MIC_LEN)) || (r = cursor_expect_end(&c)))
		goto out;
	cursor_init(&body, body_bytes, body_len);

	switch (out->mtype) {
	case LORAWAN_MTYPE_JOIN_REQUEST:
		r = parse_join_request(&body, &out->u.join_request);
		break;
	case LORAWAN_MTYPE_REJOIN_REQUEST:
		r = parse_rejoin_request(&body, &out->u.rejoin_request);
		break;
	case LORAWAN_MTYPE_JOIN_ACCEPT:
		r = parse_join_accept(&body, &out->u.join_accept);
		break;
	default:
		r = parse_data(&body, &out->u.data);
		break;
	}

out:
	if (r)
		memset(out, 0, sizeof(*out));
	return r;
}

static int build_join_request(struct writer *w, const struct lorawan_join_request *jr)
{
	int r;
	if ((r = put_eui(w, jr->join_eui)) || (r = put_eui(w, jr->dev_eui)))
		return r;
	return writer_put_u16le(w, jr->dev_nonce);
}

static int build_rejoin_request(struct writer *w, const struct lorawan_rejoin_request *rj)
{
	int r;
	if ((r = writer_put_u8(w, rj->type)))
		return r;
	switch (rj->type) {
	case 0:
	case 2:
		if (rj->net_id > MAX_24BIT)
			return IV_ERR_INVALID;
		r = writer_put_u24le(w, rj->net_id);
		break;
	case 1:
		r = put_eui(w, rj->join_eui);
		break;
	default:
		return IV_ERR_INVALID;
	}
	if (r || (r = put_eui(w, rj->dev_eui)))
		return r;
	return writer_put_u16le(w, rj->rj_count);
}

static int build_join_accept(struct writer *w, const struct lorawan_join_accept *ja)
{
	int r;
	if (ja->join_nonce > MAX_24BIT || ja->net_id > MAX_24BIT)
		return IV_ERR_INVALID;
	if ((r = writer_put_u24le(w, ja->join_nonce)) || (r = writer_put_u24le(w, ja->net_id)) ||
	    (r = writer_put_u32le(w, ja->dev_addr)) || (r = writer_put_u8(w, ja->dl_settings)) ||
	    (r = writer_put_u8(w, ja->rx_delay)))
		return r;
	if (ja->has_cflist)
		r = writer_put_bytes(w, ja->cflist, LORAWAN_CFLIST_LEN);
	return r;
}

static int build_data(struct writer *w, const struct lorawan_data_frame *d)
{
	int r;
	if ((d->fctrl & ~LORAWAN_FCTRL_FLAGS_MASK) != 0 || d->fopts_len > LORAWAN_FOPTS_MAX ||
	    d->frm_payload_len > LORAWAN_FRM_PAYLOAD_MAX ||
	    (!d->has_fport && d->frm_payload_len != 0) ||
	    (d->has_fport && d->fport == 0 && d->fopts_len != 0))
		return IV_ERR_INVALID;
	if ((r = writer_put_u32le(w, d->dev_addr)) ||
	    (r = writer_put_u8(w, (uint8_t)(d->fctrl | d->fopts_len))) ||
	    (r = writer_put_u16le(w, d->fcnt)) || (r = writer_put_bytes(w, d->fopts, d->fopts_len)))
		return r;
	if (!d->has_fport)
		return 0;
	if ((r = writer_put_u8(w, d->fport)))
		return r;
	return writer_put_bytes(w, d->frm_payload, d->frm_payload_len);
}

int lorawan_frame_build(const struct lorawan_frame *f, uint8_t *out, size_t cap, size_t *out_len)
{
	struct writer w;
	int r;

	*out_len = 0;
	if (f->rfu > 0x07 || f->mtype > LORAWAN_MTYPE_REJOIN_REQUEST)
		return IV_ERR_INVALID;
	/* Never more than the radio carries, whatever the caller's buffer. */
	writer_init(&w, out, cap < LORAWAN_PHY_PAYLOAD_MAX ? cap : LORAWAN_PHY_PAYLOAD_MAX);
	if ((r = writer_put_u8(&w, (uint8_t)((unsigned)f->mtype << 5 | (unsigned)f->rfu << 2 |
					     MHDR_MAJOR_R1))))
		goto out;
	switch (f->mtype) {
	case LORAWAN_MTYPE_JOIN_REQUEST:
		r = build_join_request(&w, &f->u.join_request);
		break;
	case LORAWAN_MTYPE_REJOIN_REQUEST:
		r = build_rejoin_request(&w, &f->u.rejoin_request);
		break;
	case LORAWAN_MTYPE_JOIN_ACCEPT:
		r = build_join_accept(&w, &f->u.join_accept);
		break;
	default:
		r = build_data(&w, &f->u.data);
		break;
	}
	if (r || (r = writer_put_bytes(&w, f->mic, LORAWAN_MIC_LEN)))
		goto out;

	/* success */
	*out_len = w.len;
	r = 0;
out:
	return r;
}
