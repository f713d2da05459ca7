-- Tenancy and certificate-authority authentication of backend-interface peers.
-- tenant_id NULL: an installation-wide peer (made with the CLI by whoever runs
-- the installation), answered for every tenant's devices; otherwise the
-- tenant's own peer, answered only for that tenant's devices.
-- client_ca: PEM of the CA a peer's client certificate must chain to, with
-- client_cert_cn the subject CN it must carry (NULL: any CN the CA signed).
-- receiver_unknown_code: how a wrong ReceiverID is answered to this peer
-- (LoRaWAN Backend Interfaces spell it UnknownReceiver, some servers
-- UnknownReceiverID).
ALTER TABLE peers ADD COLUMN tenant_id INTEGER REFERENCES tenants(id);
ALTER TABLE peers ADD COLUMN client_ca TEXT;
ALTER TABLE peers ADD COLUMN client_cert_cn TEXT;
ALTER TABLE peers ADD COLUMN receiver_unknown_code TEXT NOT NULL DEFAULT 'UnknownReceiver'
  CHECK (receiver_unknown_code IN ('UnknownReceiver', 'UnknownReceiverID'));
CREATE INDEX peers_tenant ON peers (tenant_id, id);
