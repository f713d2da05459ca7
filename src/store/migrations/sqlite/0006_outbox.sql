-- Integrations: the tenants' webhook endpoints (each signing secret is sealed
-- in `secrets` as owner_kind 'webhook', field 'secret') and the durable
-- outbox of messages waiting for MQTT or a webhook (docs/integrations.md).
CREATE TABLE webhooks (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant_id INTEGER NOT NULL REFERENCES tenants(id),
  url TEXT NOT NULL,
  events TEXT NOT NULL DEFAULT '',     -- comma-separated; '' = every event
  enabled INTEGER NOT NULL DEFAULT 1,
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX webhooks_tenant ON webhooks (tenant_id, id);

-- AUTOINCREMENT: the id is the delivery id receivers de-duplicate on, so it
-- is never reused, and it is the delivery order.
CREATE TABLE outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant_id INTEGER NOT NULL,
  webhook_id INTEGER REFERENCES webhooks(id) ON DELETE CASCADE, -- NULL: MQTT
  topic TEXT NOT NULL,                 -- MQTT topic, or the webhook event
  body TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX outbox_destination ON outbox (webhook_id, id);
CREATE INDEX outbox_tenant ON outbox (tenant_id, id);

-- Counted by triggers so that the per-tenant bound costs one row lookup per
-- message instead of a count over the queue.
CREATE TABLE outbox_tenant_stats (
  tenant_id INTEGER PRIMARY KEY,
  queued INTEGER NOT NULL DEFAULT 0,
  dropped INTEGER NOT NULL DEFAULT 0,
  last_overflow_event_at INTEGER NOT NULL DEFAULT 0
);

CREATE TRIGGER outbox_counted AFTER INSERT ON outbox BEGIN
  INSERT INTO outbox_tenant_stats (tenant_id, queued) VALUES (NEW.tenant_id, 1)
    ON CONFLICT (tenant_id) DO UPDATE SET queued = queued + 1;
END;

CREATE TRIGGER outbox_uncounted AFTER DELETE ON outbox BEGIN
  UPDATE outbox_tenant_stats SET queued = queued - 1 WHERE tenant_id = OLD.tenant_id;
END;
