-- LwM2M Bootstrap and Device-Management server: the DM credentials handed
-- out at bootstrap and the clients' registrations. A device's own PSK
-- (secrets field "psk") is its bootstrap credential; each bootstrap creates a
-- fresh DM credential whose PSK and identity are sealed in `secrets` under
-- owner_kind 'lwm2m_dm_cred' (fields "dm_psk", "dm_psk_identity"). The
-- identity is also kept here in clear: it is what the DTLS handshake looks
-- up, and it travels in clear in that handshake anyway.
CREATE TABLE lwm2m_dm_credentials (
  id INTEGER PRIMARY KEY,
  tenant_id INTEGER NOT NULL,
  device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
  identity TEXT NOT NULL UNIQUE,
  -- pending: written by a bootstrap, not used yet; active: the device has
  -- registered with it; retired: superseded, refused in the handshake
  state TEXT NOT NULL CHECK (state IN ('pending', 'active', 'retired')),
  created_at INTEGER NOT NULL,
  activated_at INTEGER,
  retired_at INTEGER
);
CREATE INDEX lwm2m_dm_credentials_device ON lwm2m_dm_credentials (device_id, state);

-- A credential's sealed key goes with its row (and with the device, through
-- the cascade above); a retired credential's key is deleted at retirement.
CREATE TRIGGER lwm2m_dm_credentials_delete_secrets AFTER DELETE ON lwm2m_dm_credentials
BEGIN
  DELETE FROM secrets WHERE owner_kind = 'lwm2m_dm_cred' AND owner_id = OLD.id;
END;
CREATE TRIGGER lwm2m_dm_credentials_retire_secrets AFTER UPDATE OF state ON lwm2m_dm_credentials
WHEN NEW.state = 'retired'
BEGIN
  DELETE FROM secrets WHERE owner_kind = 'lwm2m_dm_cred' AND owner_id = OLD.id;
END;

CREATE TABLE lwm2m_registrations (
  id INTEGER PRIMARY KEY,
  tenant_id INTEGER NOT NULL,
  device_id INTEGER NOT NULL UNIQUE REFERENCES devices(id) ON DELETE CASCADE,
  location TEXT NOT NULL UNIQUE,       -- "rd/<id>", the registration's resource
  endpoint TEXT NOT NULL,
  lwm2m_version TEXT NOT NULL,
  binding TEXT NOT NULL,
  queue_mode INTEGER NOT NULL DEFAULT 0,
  lifetime_s INTEGER NOT NULL CHECK (lifetime_s > 0),
  object_links TEXT NOT NULL DEFAULT '',
  address TEXT NOT NULL,
  security TEXT NOT NULL CHECK (security IN ('psk', 'nosec')),
  credential_id INTEGER,               -- the DM credential used; NULL for NoSec
  registered_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX lwm2m_registrations_expiry ON lwm2m_registrations (expires_at);
