-- Per-tenant audit queries of the API read records of one tenant in order.
CREATE INDEX audit_log_tenant ON audit_log (tenant_id, seq);
