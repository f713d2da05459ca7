/* The dictionary of published and vendor-default keys: keys printed in
 * standards, shipped as defaults in firmware and SDK samples, or used as the
 * example in documentation, which therefore end up on real devices. Every
 * entry cites where it was published. Keys that a pattern rule already
 * catches (all zeros, all 0xFF, 00 01 02 ...) are listed only when they are a
 * documented default, so that the finding can name the source.
 *
 * The table is small, so the lookup scans all of it with branch-free
 * comparisons instead of a binary search whose path would depend on the key. */
#include "hygiene_internal.h"

/* One rule per published key (or family of sizes of one key). */
enum dict_rule {
	DICT_FIPS197_EXAMPLE,
	DICT_FIPS197_APPENDIX_C_KEY,
	DICT_FIPS197_APPENDIX_C_PLAINTEXT,
	DICT_FIPS197_AES192_EXAMPLE,
	DICT_FIPS197_AES256_EXAMPLE,
	DICT_HEX_DIGITS_TWICE,
	DICT_IBM_LMIC_DEVKEY,
	DICT_CHIRPSTACK_EXAMPLE_KEK,
	DICT_ZIGBEE_HA_LINK_KEY,
	DICT_TINYDTLS_SECRET_PSK,
	DICT_YUBIKEY_PIV_MANAGEMENT_KEY,
	DICT_RULE_COUNT
};

static const struct hygiene_rule dict_rules[DICT_RULE_COUNT] = {
	[DICT_FIPS197_EXAMPLE] = {"dictionary.fips197_example",
				  "the FIPS-197 / RFC 4493 example key, default AppKey of Semtech "
				  "LoRaMac-node based firmware"},
	[DICT_FIPS197_APPENDIX_C_KEY] = {"dictionary.fips197_appendix_c_key",
					 "the FIPS-197 appendix C example key (00 01 02 ...)"},
	[DICT_FIPS197_APPENDIX_C_PLAINTEXT] = {"dictionary.fips197_appendix_c_plaintext",
					       "the FIPS-197 appendix C example plaintext "
					       "(00 11 22 ... FF), a common placeholder key"},
	[DICT_FIPS197_AES192_EXAMPLE] = {"dictionary.fips197_aes192_example",
					 "the FIPS-197 / SP 800-38A AES-192 example key"},
	[DICT_FIPS197_AES256_EXAMPLE] = {"dictionary.fips197_aes256_example",
					 "the FIPS-197 / SP 800-38A AES-256 example key"},
	[DICT_HEX_DIGITS_TWICE] = {"dictionary.hex_digits_twice",
				   "the hex digits 0-F written twice, a sample-code placeholder "
				   "AppKey"},
	[DICT_IBM_LMIC_DEVKEY] = {"dictionary.ibm_lmic_devkey",
				  "the DEVKEY of the IBM LMIC example applications"},
	[DICT_CHIRPSTACK_EXAMPLE_KEK] = {"dictionary.chirpstack_example_kek",
					 "the example KEK of the ChirpStack configuration "
					 "template"},
	[DICT_ZIGBEE_HA_LINK_KEY] = {"dictionary.zigbee_ha_link_key",
				     "the Zigbee default trust-centre link key"},
	[DICT_TINYDTLS_SECRET_PSK] = {"dictionary.tinydtls_secret_psk",
				      "the tinydtls / Leshan / Californium demo PSK"},
	[DICT_YUBIKEY_PIV_MANAGEMENT_KEY] = {"dictionary.yubikey_piv_management_key",
					     "the YubiKey PIV default management key"},
};

struct dict_entry {
	enum dict_rule rule;
	uint8_t len;
	uint8_t key[32];
};

static const struct dict_entry dict[] = {
	/* FIPS-197 appendix A.1 (key expansion example) cipher key; also the
	 * AES-CMAC test key of RFC 4493 section 4 and the AES-128 key of NIST
	 * SP 800-38A F.1.1. Semtech LoRaMac-node ships it as the default
	 * LORAWAN_APP_KEY / NWK_KEY (Commissioning.h, se-identity.h), and so do
	 * firmwares derived from it (ST I-CUBE-LRWAN, many module vendors); the
	 * arduino-lmic ABP examples call it "the default Semtech key, which is
	 * used by the prototype TTN network". */
	{DICT_FIPS197_EXAMPLE, 16,
	 {0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6,
	  0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c}},
	/* FIPS-197 appendix C.1 AES-128 example key. Also the DTLS PSK of the
	 * Zephyr / nRF Connect SDK LwM2M client samples
	 * (samples/nrf9160/lwm2m_client: client_psk "000102030405060708090a0b0c0d0e0f"). */
	{DICT_FIPS197_APPENDIX_C_KEY, 16,
	 {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
	  0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f}},
	/* FIPS-197 appendix C.2 AES-192 example key. */
	{DICT_FIPS197_APPENDIX_C_KEY, 24,
	 {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
	  0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
	  0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17}},
	/* FIPS-197 appendix C.3 AES-256 example key. */
	{DICT_FIPS197_APPENDIX_C_KEY, 32,
	 {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
	  0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
	  0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
	  0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f}},
	/* FIPS-197 appendix C plaintext (00112233445566778899aabbccddeeff),
	 * the placeholder people type when asked for "a key". */
	{DICT_FIPS197_APPENDIX_C_PLAINTEXT, 16,
	 {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
	  0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}},
	/* FIPS-197 appendix A.2 key expansion example, AES-192; the AES-192 key
	 * of NIST SP 800-38A F.1.3. */
	{DICT_FIPS197_AES192_EXAMPLE, 24,
	 {0x8e, 0x73, 0xb0, 0xf7, 0xda, 0x0e, 0x64, 0x52,
	  0xc8, 0x10, 0xf3, 0x2b, 0x80, 0x90, 0x79, 0xe5,
	  0x62, 0xf8, 0xea, 0xd2, 0x52, 0x2c, 0x6b, 0x7b}},
	/* FIPS-197 appendix A.3 key expansion example, AES-256; the AES-256 key
	 * of NIST SP 800-38A F.1.5. */
	{DICT_FIPS197_AES256_EXAMPLE, 32,
	 {0x60, 0x3d, 0xeb, 0x10, 0x15, 0xca, 0x71, 0xbe,
	  0x2b, 0x73, 0xae, 0xf0, 0x85, 0x7d, 0x77, 0x81,
	  0x1f, 0x35, 0x2c, 0x07, 0x3b, 0x61, 0x08, 0xd7,
	  0x2d, 0x98, 0x10, 0xa3, 0x09, 0x14, 0xdf, 0xf4}},
	/* "0123456789abcdef0123456789abcdef": LORAWAN_APPLICATION_KEY of the
	 * End-node sample Commissioning.h for the ST B-L072Z-LRWAN1 LoRa
	 * Discovery kit (as copied in github.com/ty4tw/ST_LORA_DISCOVERY); named
	 * in iotvault issue 4 as a common placeholder. */
	{DICT_HEX_DIGITS_TWICE, 16,
	 {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
	  0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef}},
	/* IBM "LoRaWAN in C" (LMIC) 1.x example applications (examples/join,
	 * examples/hello ...): DEVKEY, commented "device-specific AES key
	 * (derived from device EUI)", next to DEVEUI 01 23 45 67 89 AB CD EF. */
	{DICT_IBM_LMIC_DEVKEY, 16,
	 {0xab, 0x89, 0xef, 0xcd, 0x23, 0x01, 0x67, 0x45,
	  0x54, 0x76, 0x10, 0x32, 0xdc, 0xfe, 0x98, 0xba}},
	/* ChirpStack Network Server configuration template,
	 * [[join_server.kek.set]] example: kek="01020304050607080102030405060708". */
	{DICT_CHIRPSTACK_EXAMPLE_KEK, 16,
	 {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
	  0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08}},
	/* ZigBee Home Automation public application profile (and Zigbee 3.0
	 * "default global trust center link key"): ASCII "ZigBeeAlliance09". */
	{DICT_ZIGBEE_HA_LINK_KEY, 16, "ZigBeeAlliance09"},
	/* ASCII "secretPSK" (hex 73656372657450534b) with identity
	 * "Client_identity": PSK_DEFAULT_KEY of the tinydtls example client (and
	 * RIOT's copies of it), LWM2M_SERVER_PSK_KEY of RIOT's LwM2M example,
	 * GOOD_PSK_KEY of the Eclipse Leshan integration tests, the Californium
	 * demo PSK store ("default openssl PSK credentials"). */
	{DICT_TINYDTLS_SECRET_PSK, 9, "secretPSK"},
	/* Yubico documentation (ykman piv, yubico-piv-tool): factory default
	 * PIV management key 010203040506070801020304050607080102030405060708
	 * (3DES), pasted elsewhere as a "known good" 24-byte key. */
	{DICT_YUBIKEY_PIV_MANAGEMENT_KEY, 24,
	 {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
	  0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
	  0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08}},
};

void hygiene_dictionary_check(const uint8_t *key, const uint8_t *rev, size_t len,
			      struct hygiene_collector *c)
{
	for (size_t i = 0; i < sizeof(dict) / sizeof(dict[0]); i++) {
		const struct dict_entry *e = &dict[i];
		uint32_t as_is, reversed;

		/* the length is public (it is in the stored record) */
		if (e->len != len)
			continue;
		as_is = hygiene_ct_equal(key, e->key, len);
		reversed = hygiene_ct_equal(rev, e->key, len);
		if (as_is)
			hygiene_collect(c, dict_rules[e->rule].id, "the key is %s",
					dict_rules[e->rule].summary);
		else if (reversed)
			hygiene_collect(c, dict_rules[e->rule].id,
					"the key is %s, in reversed byte order",
					dict_rules[e->rule].summary);
	}
}

size_t hygiene_dictionary_rule_count(void)
{
	return DICT_RULE_COUNT;
}

const struct hygiene_rule *hygiene_dictionary_rule_get(size_t i)
{
	return i < DICT_RULE_COUNT ? &dict_rules[i] : NULL;
}
