-- Key hygiene: keyed fingerprints of device keys (duplicate detection by one
-- index lookup), the fingerprint key's version, findings recorded on devices
-- stored under the "flag" policy, and devices whose key was regenerated.

-- HMAC-SHA256 (upper hex) under the vault-held fingerprint key, for device
-- root keys only (NULL for every other secret). fp_version is the version of
-- the fingerprint key it was computed under; rows below the current version
-- are recomputed by `iotvault hygiene rotate-fingerprint-key`.
ALTER TABLE secrets ADD COLUMN fingerprint TEXT;
ALTER TABLE secrets ADD COLUMN fp_version INTEGER;
-- duplicate lookups: same fingerprint, split by tenant
CREATE INDEX secrets_fingerprint ON secrets (fingerprint, tenant_id, owner_id)
  WHERE fingerprint IS NOT NULL;
-- the fleet report: one tenant's fingerprints in order (duplicate groups)
CREATE INDEX secrets_tenant_fingerprint ON secrets (tenant_id, fingerprint, owner_id)
  WHERE fingerprint IS NOT NULL;
-- rows left to fingerprint (new key, or data written before this migration)
CREATE INDEX secrets_fp_pending ON secrets (fp_version, id)
  WHERE owner_kind = 'device';

-- One row: the current fingerprint key version (0: no key created yet).
CREATE TABLE hygiene_state (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  fp_version INTEGER NOT NULL
);
INSERT INTO hygiene_state (id, fp_version) VALUES (1, 0);

ALTER TABLE devices ADD COLUMN needs_provisioning INTEGER NOT NULL DEFAULT 0;

-- Findings on keys stored anyway (policy "flag") or replaced ("regenerate").
-- DETAIL is fixed text from the rules: never key material.
CREATE TABLE device_findings (
  device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
  field TEXT NOT NULL,
  rule TEXT NOT NULL,
  detail TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (device_id, field, rule)
);

-- device keys stored before this migration wait for a fingerprint (version 0)
UPDATE secrets SET fp_version = 0 WHERE owner_kind = 'device';
