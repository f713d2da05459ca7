-- LoRaWAN Application Server: the codec profile of each device, per-session
-- frame counters (the last uplink FCnt and the next AFCntDown, enforced by
-- conditional UPDATEs so that they hold across restarts and instances), the
-- stored uplinks with their retention time, and the downlinks with their
-- outcome at the network server. Payload keys stay in `secrets`.
ALTER TABLE devices ADD COLUMN codec TEXT NOT NULL DEFAULT 'raw';

CREATE TABLE appserver_sessions (
  session_id INTEGER PRIMARY KEY REFERENCES lorawan_sessions(id) ON DELETE CASCADE,
  last_fcnt_up INTEGER,                        -- NULL until the first uplink
  next_a_fcnt_down INTEGER NOT NULL DEFAULT 0,
  ns_kind TEXT NOT NULL DEFAULT '',            -- chirpstack | tts | native: who delivered it last
  tts_application_id TEXT NOT NULL DEFAULT '',
  tts_device_id TEXT NOT NULL DEFAULT '',
  updated_at INTEGER NOT NULL,
  CHECK (last_fcnt_up IS NULL OR (last_fcnt_up >= 0 AND last_fcnt_up <= 4294967295)),
  CHECK (next_a_fcnt_down >= 0 AND next_a_fcnt_down <= 4294967296)
);

CREATE TABLE uplinks (
  id INTEGER PRIMARY KEY,
  tenant_id INTEGER NOT NULL,
  device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
  session_id INTEGER NOT NULL,
  f_cnt INTEGER NOT NULL,
  f_port INTEGER NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('accepted', 'rejected')),
  reason TEXT NOT NULL DEFAULT '',
  codec TEXT NOT NULL,
  decoded TEXT,                                -- JSON of the decoded payload (accepted only)
  source TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX uplinks_device ON uplinks (device_id, id);
CREATE INDEX uplinks_expiry ON uplinks (expires_at);

CREATE TABLE downlinks (
  id INTEGER PRIMARY KEY,
  tenant_id INTEGER NOT NULL,
  device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
  session_id INTEGER NOT NULL,
  f_port INTEGER NOT NULL,
  a_fcnt_down INTEGER NOT NULL,
  confirmed INTEGER NOT NULL,
  payload_len INTEGER NOT NULL,
  target TEXT NOT NULL,                        -- chirpstack | tts | none
  outcome TEXT NOT NULL CHECK (outcome IN ('pending', 'pushed', 'failed')),
  detail TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  UNIQUE (session_id, a_fcnt_down)
);
CREATE INDEX downlinks_device ON downlinks (device_id, id);
