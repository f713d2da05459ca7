-- LwM2M observations, their stored notifications, and requests held for
-- queue-mode devices (docs/lwm2m.md).
--
-- An observation is the token of a GET Observe=0 the DM server sent on a
-- device's session; a notification is any later response with that token.
-- Observations end with the registration (trigger below), with the session
-- (the server deletes them), or when cancelled through the API.
-- AUTOINCREMENT: an id is never reused, so a cancel or a notification
-- query naming an ended observation never reaches a later one.
CREATE TABLE lwm2m_observations (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant_id INTEGER NOT NULL,
  device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
  path TEXT NOT NULL,                  -- "/3/0/9"
  token BLOB NOT NULL,                 -- not secret: it travels in every notification
  address TEXT NOT NULL,               -- the session's remote address
  last_seq INTEGER NOT NULL,           -- Observe option of the freshest notification
  last_at INTEGER NOT NULL,            -- when it came (RFC 7641 3.4: 128 s rule)
  notifications INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  UNIQUE (device_id, token)
);

CREATE TRIGGER lwm2m_registrations_end_observations AFTER DELETE ON lwm2m_registrations
BEGIN
  DELETE FROM lwm2m_observations WHERE device_id = OLD.device_id;
END;

-- observation_id is not a foreign key: notifications outlive their
-- observation until their retention ([lwm2m] observe_retention_days).
CREATE TABLE lwm2m_notifications (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant_id INTEGER NOT NULL,
  device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
  observation_id INTEGER NOT NULL,
  path TEXT NOT NULL,
  seq INTEGER NOT NULL,                -- the Observe option value
  content_format INTEGER NOT NULL,
  records TEXT NOT NULL,               -- JSON array of {path, type, value}
  received_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX lwm2m_notifications_device ON lwm2m_notifications (device_id, id);
CREATE INDEX lwm2m_notifications_expiry ON lwm2m_notifications (expires_at);
