/* The LoRaWAN Join Server: LoRaWAN Backend Interfaces (TS002) messages from
 * network and application servers. Every message gets an answer: a TS002
 * JSON object with Result.ResultCode (Success, MICFailed, UnknownDevEUI,
 * UnknownSender, FrameReplayed, MalformedRequest, ...). A failed message
 * changes nothing. */
#ifndef IOTVAULT_JOINSERVER_H
#define IOTVAULT_JOINSERVER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "iotvault/peer_auth.h"

struct service;

/* The largest TS002 message accepted (a JoinReq is well under 1 KiB). */
#define TS002_MAX_BODY (16 * 1024)

struct js_request_ctx {
	const char *source;      /* peer address, for security events */
	const char *cert_sha256; /* client certificate fingerprint, NULL when none */
	const char *bearer;      /* Authorization: Bearer token, NULL when none */
	/* the client's certificate chain as presented, leaf first (DER; the
	 * pointers are valid during the call); checked against a peer's CA */
	const struct peer_cert_der *certs;
	size_t ncerts;
};

/* Handles one message and sets *ANSWER (never NULL on return, unless out of
 * memory). Takes the service lock for its store and vault work. */
void joinserver_handle(struct service *svc, const struct js_request_ctx *ctx, const uint8_t *body,
		       size_t len, json_t **answer);

#endif
