-- The maintenance role for the scheduled jobs (cleanup, partition-maintenance). Like corral_app it is
-- cluster-wide, created only when absent and never dropped by a down migration, and it must not bypass
-- row-level security. It reaches across tenants only where a migration gives it a permissive policy
-- `maintenance ... FOR ALL TO corral_maint USING (true) WITH CHECK (true)`: every migration that adds a
-- table the scheduled jobs clean up adds that policy and the grants below for it. Deployments give it
-- LOGIN and a password outside the migrations (DATABASE_MAINTENANCE_URL).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'corral_maint') THEN
        BEGIN
            CREATE ROLE corral_maint NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL; -- created concurrently by another database's migration
        END;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'corral_maint' AND (rolsuper OR rolbypassrls)) THEN
        RAISE EXCEPTION 'role corral_maint must not be a superuser nor have BYPASSRLS: it must reach rows only through its policies';
    END IF;
END
$$;

GRANT USAGE ON SCHEMA public TO corral_maint;

-- Expired idempotency keys of every tenant (and the anonymous ones) are deleted hourly.
CREATE POLICY maintenance ON idempotency_keys FOR ALL TO corral_maint USING (true) WITH CHECK (true);
GRANT SELECT, DELETE ON idempotency_keys TO corral_maint;
-- SELECT ... FOR UPDATE, which the batched deletes use to skip rows another run holds, needs an UPDATE
-- privilege on some column; expires_at is the one the cleanup reads.
GRANT UPDATE (expires_at) ON idempotency_keys TO corral_maint;

-- Audit rows past retention are deleted hourly and whole monthly partitions dropped daily. A partition
-- queried directly applies its own policies, so each one gets the maintenance policy too.
CREATE POLICY maintenance ON audit_events FOR ALL TO corral_maint USING (true) WITH CHECK (true);
GRANT SELECT, DELETE ON audit_events TO corral_maint;
GRANT UPDATE (occurred_at) ON audit_events TO corral_maint;

DO $$
DECLARE
    part regclass;
BEGIN
    FOR part IN SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'public.audit_events'::regclass LOOP
        EXECUTE format('CREATE POLICY maintenance ON %s FOR ALL TO corral_maint USING (true) WITH CHECK (true)', part);
    END LOOP;
END
$$;

-- audit_events_ensure_partition creates the partition audit_events_yYYYYmMM holding the UTC calendar month
-- of month, with the same row-level security as its parent (a partition queried directly applies its own
-- policies, not the parent's): the tenant policy and the maintenance policy. It returns the partition's
-- name and does nothing when the partition exists. It runs with its owner's rights (SECURITY DEFINER, a
-- fixed search_path) so that corral_maint, which owns no table, can call it from partition-maintenance.
CREATE OR REPLACE FUNCTION audit_events_ensure_partition(month date) RETURNS text
    LANGUAGE plpgsql
    SECURITY DEFINER
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
    EXECUTE format('CREATE POLICY maintenance ON public.%I FOR ALL TO corral_maint USING (true) WITH CHECK (true)', part);
    RETURN part;
END
$$;
REVOKE EXECUTE ON FUNCTION audit_events_ensure_partition(date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit_events_ensure_partition(date) TO corral_maint;

-- audit_events_drop_partitions drops every monthly partition audit_events_yYYYYmMM whose whole month ends at
-- or before cutoff, and returns the names it dropped. The default partition is never dropped. Like
-- audit_events_ensure_partition it runs with its owner's rights for corral_maint.
CREATE FUNCTION audit_events_drop_partitions(cutoff timestamptz) RETURNS SETOF text
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = public, pg_catalog
AS $$
DECLARE
    part text;
    m    text[];
BEGIN
    FOR part IN
        SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'public.audit_events'::regclass ORDER BY c.relname
    LOOP
        m := regexp_match(part, '^audit_events_y([0-9]{4})m([0-9]{2})$');
        CONTINUE WHEN m IS NULL;
        IF ((make_date(m[1]::int, m[2]::int, 1) + interval '1 month')::timestamp AT TIME ZONE 'UTC') <= cutoff THEN
            EXECUTE format('DROP TABLE public.%I', part);
            RETURN NEXT part;
        END IF;
    END LOOP;
END
$$;
REVOKE EXECUTE ON FUNCTION audit_events_drop_partitions(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit_events_drop_partitions(timestamptz) TO corral_maint;
