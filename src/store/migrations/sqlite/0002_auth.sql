-- Authentication: account state on users, the per-tenant TOTP requirement,
-- sessions (only the SHA-256 of each token), API keys (only the SHA-256 of
-- each secret) and the login failures that drive throttling.
ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1));
ALTER TABLE users ADD COLUMN totp_enabled INTEGER NOT NULL DEFAULT 0
  CHECK (totp_enabled IN (0, 1));
-- the last accepted TOTP time step: a code is usable once, so steps <= this are refused
ALTER TABLE users ADD COLUMN totp_last_step INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN require_totp INTEGER NOT NULL DEFAULT 0
  CHECK (require_totp IN (0, 1));

CREATE TABLE sessions (
  id INTEGER PRIMARY KEY,
  token_hash BLOB NOT NULL UNIQUE CHECK (length(token_hash) = 32),
  tenant_id INTEGER NOT NULL REFERENCES tenants(id),
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);

CREATE TABLE api_keys (
  id INTEGER PRIMARY KEY,
  tenant_id INTEGER NOT NULL REFERENCES tenants(id),
  name TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'auditor', 'viewer')),
  secret_hash BLOB NOT NULL CHECK (length(secret_hash) = 32),
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  last_used_at INTEGER NOT NULL DEFAULT 0,
  revoked_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id, id);

-- The account is named by what was typed (tenant and user name), so unknown
-- accounts are throttled exactly like real ones and reveal nothing.
CREATE TABLE login_failures (
  id INTEGER PRIMARY KEY,
  tenant TEXT NOT NULL,
  username TEXT NOT NULL,
  source TEXT NOT NULL,
  at_ms INTEGER NOT NULL
);
CREATE INDEX login_failures_account ON login_failures (tenant, username, at_ms);
CREATE INDEX login_failures_source ON login_failures (source, at_ms);
CREATE INDEX login_failures_at ON login_failures (at_ms);
