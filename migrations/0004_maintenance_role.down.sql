-- The role corral_maint stays (roles are cluster-wide); everything this database granted it goes.
DROP FUNCTION audit_events_drop_partitions(timestamptz);

REVOKE EXECUTE ON FUNCTION audit_events_ensure_partition(date) FROM corral_maint;
-- The body of 0003: no maintenance policy, run with the caller's rights.
CREATE OR REPLACE FUNCTION audit_events_ensure_partition(month date) RETURNS text
    LANGUAGE plpgsql
    SECURITY INVOKER
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

-- Partitions made since 0004 carry the maintenance policy too: drop it wherever it is.
DO $$
DECLARE
    part regclass;
BEGIN
    FOR part IN SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'public.audit_events'::regclass LOOP
        EXECUTE format('DROP POLICY IF EXISTS maintenance ON %s', part);
    END LOOP;
END
$$;

REVOKE ALL ON audit_events FROM corral_maint;
DROP POLICY maintenance ON audit_events;

REVOKE ALL ON idempotency_keys FROM corral_maint;
DROP POLICY maintenance ON idempotency_keys;

REVOKE USAGE ON SCHEMA public FROM corral_maint;
