/* TLS material helpers (GnuTLS). */
#ifndef IOTVAULT_TLS_H
#define IOTVAULT_TLS_H

#include "iotvault/errors.h"

/* Writes a self-signed ECDSA P-256 certificate for localhost (SAN: DNS
 * localhost, IP 127.0.0.1 and ::1), valid for 825 days, and its private key,
 * both 0600, refusing to replace existing files. FINGERPRINT receives the
 * certificate's SHA-256 fingerprint as colon-separated hex (96 bytes). */
int tls_create_self_signed(const char *cert_path, const char *key_path,
			   char fingerprint[static 96]) IV_WUR;

#endif
