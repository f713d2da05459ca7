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

-- Requests held for a device in queue mode until it is next heard from
-- (registration update, or any exchange on its session), sent in id order.
-- The API answers 202 with the id; the outcome is polled. payload is the
-- encoded CoAP payload (never Security-object data: the API refuses those).
CREATE TABLE lwm2m_held_requests (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant_id INTEGER NOT NULL,
  device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
  method INTEGER NOT NULL,             -- enum lwm2m_dm_method
  path TEXT NOT NULL,
  accept INTEGER NOT NULL,
  content_format INTEGER NOT NULL,
  payload BLOB NOT NULL,
  query TEXT NOT NULL DEFAULT '',
  actor_type TEXT NOT NULL,            -- who asked, for the outcome's audit record
  actor TEXT NOT NULL,
  source TEXT NOT NULL,
  -- pending: held; sent: on the way; done: the device answered (any code);
  -- failed: not answered (session gone, no answer, server restarted);
  -- expired: never sent within its lifetime
  state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'done', 'failed', 'expired')),
  coap_code INTEGER,
  result TEXT,                         -- JSON: the decoded answer
  error TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX lwm2m_held_requests_device ON lwm2m_held_requests (device_id, state, id);
-- the expiry sweep and the purge of finished requests (kept 7 days)
CREATE INDEX lwm2m_held_requests_state ON lwm2m_held_requests (state, expires_at);
CREATE INDEX lwm2m_held_requests_updated ON lwm2m_held_requests (updated_at);
