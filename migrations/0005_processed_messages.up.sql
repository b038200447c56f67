-- Per-message dedupe for the SQS consumers (shared/sqsx.Once). A consumer records the message's corral-id
-- in the same transaction as the effect it has, so an SQS redelivery (at-least-once delivery, a retried
-- batch, a redrive) finds the row and skips the effect. tenant_id is the transaction's tenant, NULL for
-- messages handled outside any tenant; the unique constraint treats NULL tenants as equal
-- (NULLS NOT DISTINCT), so INSERT ... ON CONFLICT DO NOTHING dedupes tenantless messages too. Its columns
-- lead with the consumer and message id, the selective ones: the tenant policy's IS NOT DISTINCT FROM cannot
-- use an index, so the lookup must not depend on tenant_id leading (as for idempotency_keys).
-- Rows are needed only while SQS may still deliver the message (source retention 4 days, dead-letter
-- retention 14 days, then a redrive): the cleanup job ages them out by processed_at.
CREATE TABLE processed_messages (
    tenant_id    uuid REFERENCES tenants (id) ON DELETE CASCADE,
    consumer     text NOT NULL CHECK (length(consumer) BETWEEN 1 AND 100),
    message_id   text NOT NULL CHECK (length(message_id) BETWEEN 1 AND 200),
    processed_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT processed_messages_key UNIQUE NULLS NOT DISTINCT (consumer, message_id, tenant_id)
);
CREATE INDEX processed_messages_processed_at_idx ON processed_messages (processed_at);

ALTER TABLE processed_messages ENABLE ROW LEVEL SECURITY;
ALTER TABLE processed_messages FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON processed_messages
    USING (tenant_id IS NOT DISTINCT FROM nullif(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id IS NOT DISTINCT FROM nullif(current_setting('app.tenant_id', true), '')::uuid);

-- Consumers only record and look up; rows are never updated.
GRANT SELECT, INSERT, DELETE ON processed_messages TO corral_app;

-- The cleanup job (corral_maint) deletes rows past retention across tenants in batches of
-- SELECT ... FOR UPDATE SKIP LOCKED, which needs an UPDATE privilege on some column.
CREATE POLICY maintenance ON processed_messages FOR ALL TO corral_maint USING (true) WITH CHECK (true);
GRANT SELECT, DELETE ON processed_messages TO corral_maint;
GRANT UPDATE (processed_at) ON processed_messages TO corral_maint;
