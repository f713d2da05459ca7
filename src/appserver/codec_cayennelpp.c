/* CayenneLPP (Cayenne Low Power Payload): a sequence of
 * [channel u8][type u8][value, big-endian, fixed size per type].
 *
 * The type table is that of myDevices' Cayenne LPP documentation
 * (https://developers.mydevices.com/cayenne/docs/lora/#lora-cayenne-low-power-payload;
 * IPSO object id - 3200) for types 0-3, 101-104, 113, 115, 134 and 136, extended
 * with the types of the ElectronicCats CayenneLPP library (src/CayenneLPP.h,
 * https://github.com/ElectronicCats/CayenneLPP), which most decoders (The
 * Things Stack, ChirpStack) also accept: generic sensor 100, voltage 116,
 * current 117, frequency 118, percentage 120, altitude 121, concentration
 * 125, power 128, distance 130, energy 131, direction 132, unix time 133,
 * colour 135 and switch 142. Sizes, scales and signedness follow that header.
 *
 * Strict validation: every item must be complete, of a known type and within
 * its physical range; the payload must not be empty and nothing may follow
 * the last item. Any failure refuses the whole payload, with the offset and
 * type in the reason. */
#include "iotvault/codec.h"
#include "iotvault/cursor.h"

#include <math.h>
#include <stdio.h>

enum lpp_shape {
	LPP_SCALAR, /* one value */
	LPP_XYZ,    /* three signed 16-bit axes (accelerometer, gyrometer) */
	LPP_GPS,    /* latitude, longitude (signed 24-bit, 0.0001 deg), altitude (signed 24-bit, 0.01 m) */
	LPP_RGB,    /* three bytes */
};

struct lpp_type {
	uint8_t id;
	const char *name;
	uint8_t size;     /* bytes on the wire */
	enum lpp_shape shape;
	int is_signed;
	double divisor;   /* wire value / divisor = value in the unit */
	double min, max;  /* valid range of the decoded value */
	const char *unit;
};

static const struct lpp_type lpp_types[] = {
	{0, "digital_input", 1, LPP_SCALAR, 0, 1, 0, 1, ""},
	{1, "digital_output", 1, LPP_SCALAR, 0, 1, 0, 1, ""},
	{2, "analog_input", 2, LPP_SCALAR, 1, 100, -327.68, 327.67, ""},
	{3, "analog_output", 2, LPP_SCALAR, 1, 100, -327.68, 327.67, ""},
	{100, "generic_sensor", 4, LPP_SCALAR, 0, 1, 0, 4294967295.0, ""},
	{101, "illuminance", 2, LPP_SCALAR, 0, 1, 0, 65535, "lx"},
	{102, "presence", 1, LPP_SCALAR, 0, 1, 0, 1, ""},
	{103, "temperature", 2, LPP_SCALAR, 1, 10, -273.1, 3276.7, "Cel"},
	{104, "humidity", 1, LPP_SCALAR, 0, 2, 0, 100, "%RH"},
	{113, "accelerometer", 6, LPP_XYZ, 1, 1000, -32.768, 32.767, "G"},
	{115, "barometer", 2, LPP_SCALAR, 0, 10, 0, 6553.5, "hPa"},
	{116, "voltage", 2, LPP_SCALAR, 0, 100, 0, 655.35, "V"},
	{117, "current", 2, LPP_SCALAR, 0, 1000, 0, 65.535, "A"},
	{118, "frequency", 4, LPP_SCALAR, 0, 1, 0, 4294967295.0, "Hz"},
	{120, "percentage", 1, LPP_SCALAR, 0, 1, 0, 100, "%"},
	{121, "altitude", 2, LPP_SCALAR, 1, 1, -32768, 32767, "m"},
	{125, "concentration", 2, LPP_SCALAR, 0, 1, 0, 65535, "ppm"},
	{128, "power", 2, LPP_SCALAR, 0, 1, 0, 65535, "W"},
	{130, "distance", 4, LPP_SCALAR, 0, 1000, 0, 4294967.295, "m"},
	{131, "energy", 4, LPP_SCALAR, 0, 1000, 0, 4294967.295, "kWh"},
	{132, "direction", 2, LPP_SCALAR, 0, 1, 0, 360, "deg"},
	{133, "unix_time", 4, LPP_SCALAR, 0, 1, 0, 4294967295.0, "s"},
	{134, "gyrometer", 6, LPP_XYZ, 1, 100, -327.68, 327.67, "deg/s"},
	{135, "colour", 3, LPP_RGB, 0, 1, 0, 255, ""},
	{136, "gps", 9, LPP_GPS, 1, 1, 0, 0, ""},
	{142, "switch", 1, LPP_SCALAR, 0, 1, 0, 1, ""},
};

static const struct lpp_type *lpp_type_find(uint8_t id)
{
	for (size_t i = 0; i < sizeof(lpp_types) / sizeof(lpp_types[0]); i++)
		if (lpp_types[i].id == id)
			return &lpp_types[i];
	return NULL;
}

/* A big-endian integer of N (1..4) bytes, sign-extended when SIGNED. */
static int read_int(struct cursor *c, size_t n, int is_signed, int64_t *out)
{
	uint8_t b[4];
	uint64_t v = 0;
	int r;
	if ((r = cursor_read_bytes(c, b, n)) != 0)
		return r;
	for (size_t i = 0; i < n; i++)
		v = (v << 8) | b[i];
	if (is_signed && (v & ((uint64_t)1 << (8 * n - 1))))
		*out = (int64_t)v - ((int64_t)1 << (8 * n));
	else
		*out = (int64_t)v;
	return 0;
}

/* Rounds to the type's resolution so that 0.1 stays 0.1 in JSON. */
static json_t *number(int64_t raw, double divisor)
{
	if (divisor == 1)
		return json_integer((json_int_t)raw);
	return json_real((double)raw / divisor);
}

static int in_range(double v, double min, double max)
{
	/* a tolerance far below every resolution absorbs the division's rounding */
	return v >= min - 1e-9 && v <= max + 1e-9;
}

int codec_cayennelpp_decode(const uint8_t *in, size_t len, uint8_t fport, json_t **out,
			    char *reason, size_t reason_len)
{
	struct cursor c;
	json_t *items = NULL, *item = NULL, *value = NULL;
	int r;

	(void)fport;
	*out = NULL;
	if (len == 0) {
		snprintf(reason, reason_len, "empty payload");
		return IV_ERR_INVALID;
	}
	if ((items = json_array()) == NULL)
		return IV_ERR_NOMEM;
	cursor_init(&c, in, len);
	while (cursor_remaining(&c) > 0) {
		size_t at = c.pos;
		uint8_t channel, type_id;
		const struct lpp_type *t;
		int64_t a, b, d;

		if (cursor_read_u8(&c, &channel) != 0 || cursor_read_u8(&c, &type_id) != 0) {
			snprintf(reason, reason_len, "truncated item header at offset %zu", at);
			r = IV_ERR_INVALID;
			goto out;
		}
		if ((t = lpp_type_find(type_id)) == NULL) {
			snprintf(reason, reason_len, "unknown type %u at offset %zu", type_id, at);
			r = IV_ERR_INVALID;
			goto out;
		}
		if (cursor_remaining(&c) < t->size) {
			snprintf(reason, reason_len, "%s at offset %zu: %zu of %u bytes", t->name, at,
				 cursor_remaining(&c), t->size);
			r = IV_ERR_INVALID;
			goto out;
		}
		switch (t->shape) {
		case LPP_SCALAR:
			if ((r = read_int(&c, t->size, t->is_signed, &a)) != 0)
				goto out;
			if (!in_range((double)a / t->divisor, t->min, t->max)) {
				snprintf(reason, reason_len, "%s at offset %zu: value out of range",
					 t->name, at);
				r = IV_ERR_INVALID;
				goto out;
			}
			value = number(a, t->divisor);
			break;
		case LPP_XYZ:
			if ((r = read_int(&c, 2, 1, &a)) != 0 || (r = read_int(&c, 2, 1, &b)) != 0 ||
			    (r = read_int(&c, 2, 1, &d)) != 0)
				goto out;
			value = json_pack("{s:o,s:o,s:o}", "x", number(a, t->divisor), "y",
					  number(b, t->divisor), "z", number(d, t->divisor));
			break;
		case LPP_GPS:
			if ((r = read_int(&c, 3, 1, &a)) != 0 || (r = read_int(&c, 3, 1, &b)) != 0 ||
			    (r = read_int(&c, 3, 1, &d)) != 0)
				goto out;
			if (!in_range((double)a / 10000, -90, 90) ||
			    !in_range((double)b / 10000, -180, 180)) {
				snprintf(reason, reason_len, "gps at offset %zu: latitude or longitude out of range",
					 at);
				r = IV_ERR_INVALID;
				goto out;
			}
			value = json_pack("{s:o,s:o,s:o}", "latitude", number(a, 10000), "longitude",
					  number(b, 10000), "altitude", number(d, 100));
			break;
		case LPP_RGB:
			if ((r = read_int(&c, 1, 0, &a)) != 0 || (r = read_int(&c, 1, 0, &b)) != 0 ||
			    (r = read_int(&c, 1, 0, &d)) != 0)
				goto out;
			value = json_pack("{s:I,s:I,s:I}", "r", (json_int_t)a, "g", (json_int_t)b, "b",
					  (json_int_t)d);
			break;
		}
		if (value == NULL) {
			r = IV_ERR_NOMEM;
			goto out;
		}
		item = json_pack("{s:i,s:i,s:s,s:o}", "channel", channel, "type", type_id, "name",
				 t->name, "value", value);
		value = NULL; /* owned by item, even when packing failed */
		if (item == NULL) {
			r = IV_ERR_NOMEM;
			goto out;
		}
		if (t->unit[0] != '\0')
			json_object_set_new(item, "unit", json_string(t->unit));
		json_array_append_new(items, item);
		item = NULL;
	}
	if ((*out = json_pack("{s:o}", "measurements", items)) == NULL) {
		items = NULL;
		r = IV_ERR_NOMEM;
		goto out;
	}
	items = NULL;
	/* success */
	r = 0;
out:
	json_decref(value);
	json_decref(item);
	json_decref(items);
	return r;
}
