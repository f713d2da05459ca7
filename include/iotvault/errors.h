/* The one registry of error codes. Every fallible function returns 0 or one of
 * these negative codes; each code maps to a machine-readable name, an HTTP
 * status, a CoAP response code, a TS002 ResultCode and a CLI exit status, so
 * every front end reports the same failure the same way. */
#ifndef IOTVAULT_ERRORS_H
#define IOTVAULT_ERRORS_H

#define IV_WUR __attribute__((warn_unused_result))

/* X(symbol, value, name, http, coap(class*32+detail), ts002, exit, message) */
#define IV_ERROR_TABLE(X)                                                                 \
	X(IV_OK, 0, "ok", 200, 69, "Success", 0, "success")                                   \
	X(IV_ERR_INTERNAL, -1, "internal", 500, 160, "Other", 1, "internal error")            \
	X(IV_ERR_NOMEM, -2, "out_of_memory", 503, 163, "Other", 1, "out of memory")           \
	X(IV_ERR_INVALID, -3, "invalid_argument", 400, 128, "MalformedRequest", 2,            \
	  "invalid argument")                                                                  \
	X(IV_ERR_USAGE, -4, "usage", 400, 128, "MalformedRequest", 2, "usage error")          \
	X(IV_ERR_NOT_FOUND, -5, "not_found", 404, 132, "UnknownDevEUI", 3, "not found")       \
	X(IV_ERR_EXISTS, -6, "already_exists", 409, 140, "Other", 4, "already exists")        \
	X(IV_ERR_REFUSED, -7, "refused", 409, 140, "Other", 4, "operation refused")           \
	X(IV_ERR_IO, -8, "io_error", 500, 160, "Other", 1, "input/output error")              \
	X(IV_ERR_STORE, -9, "store_error", 500, 160, "Other", 1, "storage error")             \
	X(IV_ERR_BUSY, -10, "busy", 503, 163, "Other", 1, "storage busy, try again")          \
	X(IV_ERR_CRYPTO, -11, "crypto_error", 500, 160, "Other", 1, "cryptographic failure")  \
	X(IV_ERR_AUTH_TAG, -12, "integrity_failure", 500, 160, "Other", 5,                    \
	  "authentication tag mismatch: data was modified, moved or the wrong key was used")  \
	X(IV_ERR_PERMISSIONS, -13, "insecure_permissions", 500, 160, "Other", 6,               \
	  "file or directory is accessible to other users")                                   \
	X(IV_ERR_CONFIG, -14, "config_error", 500, 160, "Other", 2, "configuration error")    \
	X(IV_ERR_MASTER_KEY, -15, "master_key_unavailable", 503, 163, "Other", 6,             \
	  "master key unavailable or wrong")                                                   \
	X(IV_ERR_AUDIT, -16, "audit_failed", 503, 163, "Other", 1,                             \
	  "audit record could not be written; action not taken")                              \
	X(IV_ERR_AUDIT_CHAIN, -17, "audit_chain_broken", 500, 160, "Other", 5,                \
	  "audit log verification failed")                                                    \
	X(IV_ERR_TOO_LARGE, -18, "too_large", 413, 141, "MalformedRequest", 2,                \
	  "input too large")                                                                   \
	X(IV_ERR_TRUNCATED, -19, "truncated", 400, 128, "MalformedRequest", 2,                \
	  "input shorter than its format requires")                                            \
	X(IV_ERR_HSM, -20, "hsm_error", 503, 163, "Other", 6, "PKCS#11 token error")          \
	X(IV_ERR_WEAK_KEY, -21, "weak_key", 422, 128, "MalformedRequest", 4,                  \
	  "key rejected as weak")                                                              \
	X(IV_ERR_SCHEMA, -22, "schema_too_new", 500, 160, "Other", 1,                          \
	  "database schema is newer than this program")                                        \
	X(IV_ERR_UNAUTHENTICATED, -23, "unauthenticated", 401, 129, "UnknownSender", 7,        \
	  "authentication required or failed")                                                 \
	X(IV_ERR_FORBIDDEN, -24, "forbidden", 403, 131, "ActivationDisallowed", 7,             \
	  "not permitted for this role")                                                       \
	X(IV_ERR_THROTTLED, -25, "too_many_requests", 429, 157, "Other", 1,                    \
	  "too many requests; try again later")                                                \
	X(IV_ERR_METHOD, -26, "method_not_allowed", 405, 133, "MalformedRequest", 2,           \
	  "method not allowed for this resource")                                              \
	X(IV_ERR_HEADERS_TOO_LARGE, -27, "headers_too_large", 431, 141, "MalformedRequest", 2, \
	  "request headers too large")                                                         \
	X(IV_ERR_TIMEOUT, -28, "request_timeout", 408, 136, "Other", 1,                        \
	  "request not completed in time")                                                     \
	X(IV_ERR_MEDIA_TYPE, -29, "unsupported_media_type", 415, 143, "MalformedRequest", 2,   \
	  "unsupported content type")                                                          \
	X(IV_ERR_WEAK_PASSWORD, -30, "weak_password", 422, 128, "MalformedRequest", 2,          \
	  "password rejected by the password policy")                                          \
	X(IV_ERR_CSRF, -31, "cross_origin_rejected", 403, 131, "Other", 7,                     \
	  "cross-origin state-changing request rejected")                                      \
	X(IV_ERR_TOTP_REQUIRED, -32, "totp_required", 401, 129, "Other", 7,                    \
	  "a one-time code is required")                                                       \
	X(IV_ERR_MIC_FAILED, -33, "mic_failed", 400, 128, "MICFailed", 5,                      \
	  "message integrity code does not verify")                                            \
	X(IV_ERR_REPLAY, -34, "replayed", 409, 137, "FrameReplayed", 4,                         \
	  "nonce or frame counter already used")                                               \
	X(IV_ERR_DEVICE_TIMEOUT, -35, "device_timeout", 504, 164, "Other", 1,                  \
	  "the device did not answer in time")                                                 \
	X(IV_ERR_DEVICE_ERROR, -36, "device_error", 502, 162, "Other", 1,                      \
	  "the device answered with a server error")                                           \
	X(IV_ERR_DEVICE_UNREACHABLE, -37, "device_unreachable", 504, 164, "Other", 1,          \
	  "no session with the device: it must contact the server first")                      \
	X(IV_ERR_QUEUE_FULL, -38, "queue_full", 429, 157, "Other", 1,                          \
	  "too many requests held for the device")

enum iv_error {
#define IV_ERR_ENUM(sym, val, name, http, coap, ts002, exitc, msg) sym = (val),
	IV_ERROR_TABLE(IV_ERR_ENUM)
#undef IV_ERR_ENUM
};

/* Machine-readable name, e.g. "not_found". Unknown codes map to "internal". */
const char *iv_error_name(int code);
/* Human-readable, static text; never contains data from the request. */
const char *iv_error_message(int code);
int iv_error_http_status(int code);
/* CoAP code as class*32+detail, e.g. 4.04 -> 132 */
int iv_error_coap_code(int code);
const char *iv_error_ts002_result(int code);
/* Process exit status for the command line (documented in README). */
int iv_error_exit_status(int code);

#endif
