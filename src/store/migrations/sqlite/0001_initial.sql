-- Initial schema: tenants, users, devices, sealed secrets, master key
-- versions and the hash-chained audit log.
CREATE TABLE tenants (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL
);

CREATE TABLE users (
  id INTEGER PRIMARY KEY,
  tenant_id INTEGER NOT NULL REFERENCES tenants(id),
  username TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'auditor', 'viewer')),
  created_at INTEGER NOT NULL,
  UNIQUE (tenant_id, username)
);

CREATE TABLE master_keys (
  version INTEGER PRIMARY KEY CHECK (version > 0),
  provider TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('active', 'retired')),
  params BLOB NOT NULL,
  check_blob BLOB NOT NULL,
  created_at INTEGER NOT NULL
);

CREATE TABLE devices (
  id INTEGER PRIMARY KEY,
  tenant_id INTEGER NOT NULL REFERENCES tenants(id),
  kind TEXT NOT NULL CHECK (kind IN ('lorawan', 'lwm2m')),
  name TEXT NOT NULL DEFAULT '',
  tags TEXT NOT NULL DEFAULT '',
  dev_eui TEXT UNIQUE,
  join_eui TEXT,
  mac_version TEXT,
  endpoint TEXT UNIQUE,
  psk_identity TEXT UNIQUE,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  CHECK ((kind = 'lorawan' AND dev_eui IS NOT NULL AND join_eui IS NOT NULL
          AND mac_version IS NOT NULL AND endpoint IS NULL)
      OR (kind = 'lwm2m' AND endpoint IS NOT NULL AND dev_eui IS NULL))
);
CREATE INDEX devices_tenant ON devices (tenant_id, id);

-- One row per sealed secret field. The ciphertext (nonce||ct||tag) is sealed
-- under a per-secret data key; the data key is wrapped under master key
-- version mk_version.
CREATE TABLE secrets (
  id INTEGER PRIMARY KEY,
  tenant_id INTEGER NOT NULL,
  owner_kind TEXT NOT NULL,
  owner_id INTEGER NOT NULL,
  field TEXT NOT NULL,
  format INTEGER NOT NULL,
  mk_version INTEGER NOT NULL REFERENCES master_keys(version),
  wrapped_dek BLOB NOT NULL,
  ciphertext BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  UNIQUE (owner_kind, owner_id, field)
);
CREATE INDEX secrets_mk_version ON secrets (mk_version, id);

CREATE TABLE audit_log (
  seq INTEGER PRIMARY KEY,
  ts_ms INTEGER NOT NULL,
  tenant_id INTEGER NOT NULL,
  actor_type TEXT NOT NULL,
  actor TEXT NOT NULL,
  source TEXT NOT NULL,
  action TEXT NOT NULL,
  object TEXT NOT NULL,
  outcome TEXT NOT NULL,
  detail TEXT NOT NULL,
  mac BLOB NOT NULL
);

CREATE TABLE audit_head (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  seq INTEGER NOT NULL,
  mac BLOB NOT NULL,
  head_mac BLOB NOT NULL
);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;

-- A secret may only be sealed under an active master key version, so a
-- process that missed a retirement cannot write what nobody could open.
CREATE TRIGGER secrets_active_version_insert BEFORE INSERT ON secrets
WHEN (SELECT state FROM master_keys WHERE version = NEW.mk_version) IS NOT 'active'
BEGIN SELECT RAISE(ABORT, 'master key version is not active'); END;
CREATE TRIGGER secrets_active_version_update BEFORE UPDATE OF mk_version ON secrets
WHEN (SELECT state FROM master_keys WHERE version = NEW.mk_version) IS NOT 'active'
BEGIN SELECT RAISE(ABORT, 'master key version is not active'); END;
