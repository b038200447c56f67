-- Idempotency records for retried POSTs, and the append-only audit log.

-- One row per (tenant, user, route, client key). Anonymous routes have no tenant (NULL) and user_id ''.
-- The unique constraint treats NULL tenants as equal (NULLS NOT DISTINCT), so
--   INSERT ... ON CONFLICT (tenant_id, user_id, route, key) DO ...
-- works for anonymous keys too. Its columns lead with key, the most selective one: the tenant policy's
-- IS NOT DISTINCT FROM cannot use an index, so the lookup must not depend on tenant_id leading.
CREATE TABLE idempotency_keys (
    tenant_id        uuid REFERENCES tenants (id) ON DELETE CASCADE,
    user_id          text NOT NULL DEFAULT '',
    route            text NOT NULL CHECK (length(route) BETWEEN 1 AND 512),
    key              text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    request_hash     bytea NOT NULL,
    lease_token      uuid,
    lease_expires_at timestamptz,
    status           text NOT NULL DEFAULT 'in_flight' CHECK (status IN ('in_flight', 'completed')),
    response_status  integer CHECK (response_status BETWEEN 100 AND 599),
    response_headers jsonb,
    response_body    bytea,
    created_at       timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz NOT NULL DEFAULT now() + interval '24 hours',
    CONSTRAINT idempotency_keys_scope_key UNIQUE NULLS NOT DISTINCT (key, route, user_id, tenant_id),
    CONSTRAINT idempotency_keys_completed_has_status CHECK (status <> 'completed' OR response_status IS NOT NULL)
);
CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys (expires_at);

ALTER TABLE idempotency_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE idempotency_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON idempotency_keys
    USING (tenant_id IS NOT DISTINCT FROM nullif(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id IS NOT DISTINCT FROM nullif(current_setting('app.tenant_id', true), '')::uuid);

GRANT SELECT, INSERT, UPDATE, DELETE ON idempotency_keys TO corral_app;

-- The audit log, partitioned by month. Events with no tenant (failed authentication, anonymous rate
-- limiting) have tenant_id NULL and are visible only to a transaction with no tenant set.
CREATE TABLE audit_events (
    id          uuid NOT NULL DEFAULT gen_random_uuid(),
    tenant_id   uuid,
    user_id     text NOT NULL DEFAULT '',
    kind        text NOT NULL CHECK (length(kind) BETWEEN 1 AND 100),
    ip          inet,
    route       text,
    detail      jsonb,
    request_id  text,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, occurred_at)
) PARTITION BY RANGE (occurred_at);
CREATE INDEX audit_events_tenant_idx ON audit_events (tenant_id, occurred_at DESC);

ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_events FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_events
    USING (tenant_id IS NOT DISTINCT FROM nullif(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id IS NOT DISTINCT FROM nullif(current_setting('app.tenant_id', true), '')::uuid);

-- The application only appends and reads the log.
GRANT SELECT, INSERT ON audit_events TO corral_app;

-- audit_events_ensure_partition creates the partition audit_events_yYYYYmMM holding the UTC calendar month
-- of month, with the same row-level security as its parent (a partition queried directly applies its own
-- policies, not the parent's), and returns its name. It does nothing when the partition exists. A
-- maintenance job running as the table owner calls it ahead of each month; rows of a month without a
-- partition land in audit_events_default.
CREATE FUNCTION audit_events_ensure_partition(month date) RETURNS text
    LANGUAGE plpgsql
    SET search_path = public, pg_catalog
AS $$
DECLARE
    first_day date := date_trunc('month', month)::date;
    part      text := format('audit_events_y%sm%s', to_char(first_day, 'YYYY'), to_char(first_day, 'MM'));
BEGIN
    IF to_regclass(format('public.%I', part)) IS NOT NULL THEN
        RETURN part;
    END IF;
    EXECUTE format('CREATE TABLE public.%I PARTITION OF public.audit_events FOR VALUES FROM (%L) TO (%L)',
        part,
        first_day::timestamp AT TIME ZONE 'UTC',
        (first_day + interval '1 month')::timestamp AT TIME ZONE 'UTC');
    EXECUTE format('ALTER TABLE public.%I ENABLE ROW LEVEL SECURITY', part);
    EXECUTE format('ALTER TABLE public.%I FORCE ROW LEVEL SECURITY', part);
    EXECUTE format($p$CREATE POLICY tenant_isolation ON public.%I
        USING (tenant_id IS NOT DISTINCT FROM nullif(current_setting('app.tenant_id', true), '')::uuid)
        WITH CHECK (tenant_id IS NOT DISTINCT FROM nullif(current_setting('app.tenant_id', true), '')::uuid)$p$,
        part);
    RETURN part;
END
$$;
REVOKE EXECUTE ON FUNCTION audit_events_ensure_partition(date) FROM PUBLIC;

CREATE TABLE audit_events_default PARTITION OF audit_events DEFAULT;
ALTER TABLE audit_events_default ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_events_default FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_events_default
    USING (tenant_id IS NOT DISTINCT FROM nullif(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id IS NOT DISTINCT FROM nullif(current_setting('app.tenant_id', true), '')::uuid);

DO $$
DECLARE
    this_month date := date_trunc('month', now() AT TIME ZONE 'UTC')::date;
BEGIN
    PERFORM audit_events_ensure_partition(this_month);
    PERFORM audit_events_ensure_partition((this_month + interval '1 month')::date);
END
$$;
