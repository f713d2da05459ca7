-- LoRaWAN Join Server: backend-interface peers (network and application
-- servers), per-device join state, DevNonce history, sessions and security
-- events. Peer KEKs and session keys are sealed in `secrets`
-- (owner_kind 'peer' / 'lorawan_session').
CREATE TABLE peers (
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('ns', 'as')),
  name TEXT NOT NULL UNIQUE,
  sender_id TEXT NOT NULL UNIQUE,      -- NetID (6 hex) of an NS, AS-ID of an AS
  kek_label TEXT NOT NULL,
  cert_sha256 TEXT,                    -- pinned client certificate (upper hex)
  token_sha256 BLOB,                   -- bearer token hash, for NSs without certificates
  allow_plaintext INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL
);

ALTER TABLE devices ADD COLUMN as_peer_id INTEGER REFERENCES peers(id);
ALTER TABLE devices ADD COLUMN home_net_id TEXT;

CREATE TABLE join_state (
  device_id INTEGER PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,
  join_nonce INTEGER NOT NULL DEFAULT 0,
  last_dev_nonce INTEGER,
  rj_count1 INTEGER
);

-- The uniqueness constraint is the replay rule for random DevNonces
-- (LoRaWAN 1.0.0-1.0.3): it holds across restarts and instances.
CREATE TABLE dev_nonces (
  device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
  dev_nonce INTEGER NOT NULL,
  used_at INTEGER NOT NULL,
  PRIMARY KEY (device_id, dev_nonce)
);

CREATE TABLE lorawan_sessions (
  id INTEGER PRIMARY KEY,
  session_key_id TEXT NOT NULL UNIQUE,
  device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
  tenant_id INTEGER NOT NULL,
  dev_addr INTEGER NOT NULL,
  mac_version TEXT NOT NULL,
  opt_neg INTEGER NOT NULL,
  ns_peer_id INTEGER,
  created_at INTEGER NOT NULL
);
CREATE INDEX lorawan_sessions_device ON lorawan_sessions (device_id, id);

CREATE TABLE security_events (
  id INTEGER PRIMARY KEY,
  ts_ms INTEGER NOT NULL,
  tenant_id INTEGER NOT NULL,
  kind TEXT NOT NULL,
  source TEXT NOT NULL,
  subject TEXT NOT NULL,
  detail TEXT NOT NULL
);
CREATE INDEX security_events_kind ON security_events (kind, ts_ms);
