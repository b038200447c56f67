ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_scope_key;
ALTER TABLE idempotency_keys DROP COLUMN scope;
ALTER TABLE idempotency_keys
    ADD CONSTRAINT idempotency_keys_scope_key UNIQUE NULLS NOT DISTINCT (key, route, user_id, tenant_id);
DROP FUNCTION idempotency_scope(uuid, text, text, text);
