/* How backend-interface peers authenticate: a pinned client certificate
 * (SHA-256), a client certificate chaining to the peer's CA (with an optional
 * subject CN), or a bearer token (stored as its SHA-256). Used by the join
 * server, `iotvault peer add` and the peers API. */
#ifndef IOTVAULT_PEER_AUTH_H
#define IOTVAULT_PEER_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "iotvault/errors.h"

/* One certificate of a client's TLS chain, DER. */
struct peer_cert_der {
	const uint8_t *der;
	size_t len;
};

/* The longest client chain looked at (leaf first). */
#define PEER_CHAIN_MAX 8
/* Bearer tokens: generated ones are 32 characters; given ones 16..63. */
#define PEER_TOKEN_MAX 64
#define PEER_TOKEN_MIN 16

/* SHA-256 of the first certificate of PEM text, as upper-case hex.
 * IV_ERR_INVALID when it holds no certificate. */
int peer_cert_pem_fingerprint(const char *pem, size_t len, char out[static 65]) IV_WUR;
/* 0 when PEM holds 1 to PEER_CHAIN_MAX certificates, each a CA
 * (basicConstraints CA) valid now; IV_ERR_INVALID with a reason in ERR. */
int peer_client_ca_check(const char *pem, char *err, size_t err_len) IV_WUR;
/* 0 when CERTS (the client's chain, leaf first) verifies up to a CA of
 * CA_PEM now (signatures, validity times, CA flags, client-auth purpose)
 * and, when CN is not empty, the leaf has exactly one subject CN, equal to
 * CN; IV_ERR_UNAUTHENTICATED otherwise. */
int peer_client_chain_verify(const char *ca_pem, const char *cn, const struct peer_cert_der *certs,
			     size_t n) IV_WUR;
/* A new random bearer token (URL-safe base64 of 24 bytes) into OUT. */
void peer_token_generate(char out[static PEER_TOKEN_MAX]);
/* The stored form of a bearer token. */
void peer_token_hash(const char *token, uint8_t out[static 32]);

#endif
