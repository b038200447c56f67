-- Outbound webhooks: the endpoints a tenant registers, one delivery per (endpoint, event), and a log row per
-- delivery attempt. Retries are driven by shared/webhook: short waits through SQS delays, longer ones from
-- webhook_deliveries.next_attempt_at, which a sweep (running as corral_maint, across tenants) re-enqueues.

CREATE TABLE webhook_endpoints (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id           uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    url                 text NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    description         text NOT NULL DEFAULT '' CHECK (length(description) <= 500),
    event_types         text[] NOT NULL CHECK (cardinality(event_types) BETWEEN 1 AND 50),
    -- The signing secret, "whsec_" + base64 of 32 random bytes. Stored as is for now: encryption at rest
    -- arrives with the key service of the identity work, which will move it to an encrypted column.
    secret              text NOT NULL CHECK (secret LIKE 'whsec\_%'),
    -- After a rotation the previous secret keeps signing, alongside the new one, until previous_expires_at.
    previous_secret     text CHECK (previous_secret LIKE 'whsec\_%'),
    previous_expires_at timestamptz,
    disabled_at         timestamptz,
    disabled_reason     text CHECK (length(disabled_reason) <= 500),
    -- Set by the first failed attempt after a success (or ever), cleared by the next success: an endpoint
    -- failing continuously for long enough is disabled.
    failing_since       timestamptz,
    created_by          uuid,
    created_at          timestamptz NOT NULL DEFAULT now(),
    -- Target of the tenant-scoped foreign keys below, so a delivery can never point into another tenant.
    UNIQUE (tenant_id, id),
    CONSTRAINT webhook_endpoints_previous_pair CHECK ((previous_secret IS NULL) = (previous_expires_at IS NULL)),
    CONSTRAINT webhook_endpoints_disabled_pair CHECK ((disabled_at IS NULL) = (disabled_reason IS NULL))
);
CREATE INDEX webhook_endpoints_keyset_idx ON webhook_endpoints (tenant_id, created_at DESC, id DESC);

CREATE TABLE webhook_deliveries (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id       uuid NOT NULL,
    endpoint_id     uuid NOT NULL,
    event_id        uuid NOT NULL,
    event_type      text NOT NULL CHECK (length(event_type) BETWEEN 1 AND 200),
    payload         jsonb NOT NULL,
    -- Attempts made so far; the next one is attempt + 1.
    attempt         integer NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    -- pending: waiting for its first attempt or a manual retry; failed: the last attempt failed and another
    -- is scheduled; succeeded; dead: no attempt is left (or the endpoint was disabled).
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'failed', 'succeeded', 'dead')),
    -- When the sweep should (re-)enqueue the next attempt: the due time of a long wait, or a safety net
    -- after an enqueue or an attempt in flight. NULL when the delivery is finished or its message is queued
    -- with no safety net needed.
    next_attempt_at timestamptz,
    last_status     integer,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    -- One delivery of an event per endpoint: a repeated fan-out of the same event adds nothing.
    UNIQUE (tenant_id, endpoint_id, event_id),
    FOREIGN KEY (tenant_id, endpoint_id) REFERENCES webhook_endpoints (tenant_id, id) ON DELETE CASCADE
);
-- The delivery log of an endpoint, newest first (keyset pagination); also serves the foreign key.
CREATE INDEX webhook_deliveries_endpoint_keyset_idx ON webhook_deliveries (tenant_id, endpoint_id, created_at DESC, id DESC);
-- The sweep's scan of due deliveries, across tenants (maintenance role). Only unfinished rows are indexed.
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at)
    WHERE next_attempt_at IS NOT NULL AND status IN ('pending', 'failed');
-- The cleanup of finished deliveries by age.
CREATE INDEX webhook_deliveries_created_idx ON webhook_deliveries (tenant_id, created_at);

-- One row per HTTP attempt of a delivery, whatever its outcome.
CREATE TABLE webhook_attempts (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id    uuid NOT NULL,
    delivery_id  uuid NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt      integer NOT NULL CHECK (attempt >= 1),
    status_code  integer,
    error        text,
    duration_ms  integer NOT NULL CHECK (duration_ms >= 0),
    attempted_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, delivery_id, attempt)
);
CREATE INDEX webhook_attempts_delivery_fk_idx ON webhook_attempts (delivery_id);
CREATE INDEX webhook_attempts_attempted_idx ON webhook_attempts (tenant_id, attempted_at);

ALTER TABLE webhook_endpoints ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_endpoints FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON webhook_endpoints
    USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

ALTER TABLE webhook_deliveries ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_deliveries FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON webhook_deliveries
    USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

ALTER TABLE webhook_attempts ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_attempts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON webhook_attempts
    USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

GRANT SELECT, INSERT, UPDATE, DELETE ON webhook_endpoints, webhook_deliveries, webhook_attempts TO corral_app;

-- The maintenance role reaches every tenant's deliveries and attempts: the sweep reads due deliveries and
-- moves their next_attempt_at on; the cleanup (later) deletes finished ones past retention.
CREATE POLICY maintenance ON webhook_deliveries FOR ALL TO corral_maint USING (true) WITH CHECK (true);
GRANT SELECT, DELETE ON webhook_deliveries TO corral_maint;
GRANT UPDATE (next_attempt_at) ON webhook_deliveries TO corral_maint;

CREATE POLICY maintenance ON webhook_attempts FOR ALL TO corral_maint USING (true) WITH CHECK (true);
GRANT SELECT, DELETE ON webhook_attempts TO corral_maint;
GRANT UPDATE (attempted_at) ON webhook_attempts TO corral_maint;
