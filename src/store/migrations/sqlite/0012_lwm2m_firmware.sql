-- LwM2M firmware update (object 5): uploaded images and the update jobs run
-- against devices. An image is kept as a blob in the database rather than as
-- a file in the data directory: it is then tenant-scoped, backed up and
-- deleted together with its metadata, and written in the same transaction
-- as its audit record (secure_delete zeroes the pages of a deleted image).
-- Images are bounded by [lwm2m] firmware_max_bytes (default 1 MiB).
CREATE TABLE lwm2m_firmware (
  id INTEGER PRIMARY KEY,
  tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  version TEXT NOT NULL,
  size INTEGER NOT NULL CHECK (size > 0),
  sha256 TEXT NOT NULL,                -- hex, computed by the server at upload
  image BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  UNIQUE (tenant_id, name, version)
);

CREATE TABLE lwm2m_firmware_jobs (
  id INTEGER PRIMARY KEY,
  tenant_id INTEGER NOT NULL,
  device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
  -- an image in use by a job cannot be deleted (the job keeps its history)
  firmware_id INTEGER NOT NULL REFERENCES lwm2m_firmware(id) ON DELETE RESTRICT,
  method TEXT NOT NULL CHECK (method IN ('push', 'pull')),
  status TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'timed_out')),
  -- the last /5/0/3 State and /5/0/5 Update Result read (-1: not read yet)
  fw_state INTEGER NOT NULL DEFAULT -1,
  update_result INTEGER NOT NULL DEFAULT -1,
  -- the states seen, in order ("0,1,2,3,0")
  states TEXT NOT NULL DEFAULT '',
  detail TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  finished_at INTEGER
);
-- one active job per device, enforced by the database
CREATE UNIQUE INDEX lwm2m_firmware_jobs_active ON lwm2m_firmware_jobs (device_id)
  WHERE status = 'running';
CREATE INDEX lwm2m_firmware_jobs_tenant ON lwm2m_firmware_jobs (tenant_id, id);
