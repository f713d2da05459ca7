-- RPK and X.509 for the LwM2M server (docs/lwm2m.md, "DTLS"): a tenant's CA
-- for device certificates, and a device's DM security mode with its raw
-- public key or certificate. None of this is secret (public keys and
-- certificates travel in clear in the handshake), so it is stored in clear;
-- every change is audited.
CREATE TABLE lwm2m_tenant_ca (
  tenant_id INTEGER PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
  certificate_pem TEXT NOT NULL,  -- one CA certificate, PEM
  subject TEXT NOT NULL,
  sha256 TEXT NOT NULL,           -- of the DER certificate, hex
  not_after INTEGER NOT NULL,     -- ms since the epoch
  updated_at INTEGER NOT NULL
);

-- No row: the device uses PSK (the default).
CREATE TABLE lwm2m_device_security (
  device_id INTEGER PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,
  tenant_id INTEGER NOT NULL,
  mode TEXT NOT NULL CHECK (mode IN ('rpk', 'x509')),
  spki BLOB NOT NULL,             -- SubjectPublicKeyInfo, DER (the RPK, or the certificate's key)
  spki_sha256 BLOB NOT NULL UNIQUE, -- one raw public key belongs to one device
  certificate BLOB,               -- x509: the device's certificate, DER
  updated_at INTEGER NOT NULL
);

-- Registrations may now be made with an RPK or a certificate. SQLite cannot
-- ALTER a CHECK constraint; widening one does not change how rows are
-- stored, so the table's stored definition is edited in place (the
-- procedure of https://www.sqlite.org/lang_altertable.html for removing
-- constraints), which keeps any columns other migrations added.
PRAGMA writable_schema = ON;
UPDATE sqlite_master
   SET sql = replace(sql, 'CHECK (security IN (''psk'', ''nosec''))',
                     'CHECK (security IN (''psk'', ''nosec'', ''rpk'', ''x509''))')
 WHERE type = 'table' AND name = 'lwm2m_registrations';
PRAGMA writable_schema = RESET;
PRAGMA writable_schema = OFF;
