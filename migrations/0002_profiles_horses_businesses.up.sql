-- Tenant-owned directory data: member profiles, businesses (stables, trainers, vets...) and horses.
-- Every table leads its indexes with tenant_id, because every query runs under a tenant policy.
-- Keyset pagination orders by (created_at DESC, id DESC); the matching indexes are named *_keyset_idx.

CREATE FUNCTION set_updated_at() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

CREATE TABLE profiles (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id         uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id           uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    display_name      text NOT NULL CHECK (length(display_name) <= 200),
    bio               text CHECK (length(bio) <= 5000),
    avatar_url        text CHECK (length(avatar_url) <= 2048),
    location          text CHECK (length(location) <= 200),
    -- PII ciphertext (envelope-encrypted by the application); never stored in clear.
    phone_enc         bytea,
    date_of_birth_enc bytea,
    address_enc       bytea,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    search            tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple', coalesce(display_name, '')), 'A')
        || setweight(to_tsvector('simple', coalesce(location, '')), 'B')
    ) STORED,
    UNIQUE (tenant_id, user_id)
);
CREATE INDEX profiles_keyset_idx ON profiles (tenant_id, created_at DESC, id DESC);
CREATE INDEX profiles_search_idx ON profiles USING gin (tenant_id, search);
CREATE INDEX profiles_name_trgm_idx ON profiles USING gin (tenant_id, display_name gin_trgm_ops);
CREATE INDEX profiles_user_idx ON profiles (user_id);
CREATE TRIGGER profiles_updated_at BEFORE UPDATE ON profiles
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE businesses (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    kind        text NOT NULL CHECK (kind IN ('stable', 'trainer', 'vet', 'farrier', 'shop', 'other')),
    description text CHECK (length(description) <= 10000),
    city        text CHECK (length(city) <= 200),
    website     text CHECK (length(website) <= 2048),
    created_by  uuid,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    search      tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple', coalesce(name, '')), 'A')
        || setweight(to_tsvector('simple', coalesce(city, '') || ' ' || kind), 'B')
    ) STORED,
    -- Target of the tenant-scoped foreign keys below, so a row can never point into another tenant.
    UNIQUE (tenant_id, id)
);
CREATE INDEX businesses_keyset_idx ON businesses (tenant_id, created_at DESC, id DESC);
CREATE INDEX businesses_kind_keyset_idx ON businesses (tenant_id, kind, created_at DESC, id DESC);
CREATE INDEX businesses_search_idx ON businesses USING gin (tenant_id, search);
CREATE INDEX businesses_name_trgm_idx ON businesses USING gin (tenant_id, name gin_trgm_ops);
CREATE TRIGGER businesses_updated_at BEFORE UPDATE ON businesses
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE business_members (
    tenant_id   uuid NOT NULL,
    business_id uuid NOT NULL,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role        text NOT NULL CHECK (role IN ('owner', 'manager', 'staff')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, business_id, user_id),
    FOREIGN KEY (tenant_id, business_id) REFERENCES businesses (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX business_members_user_idx ON business_members (tenant_id, user_id);
CREATE INDEX business_members_user_fk_idx ON business_members (user_id);

CREATE TABLE horses (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id         uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name              text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    breed             text CHECK (length(breed) <= 200),
    sex               text NOT NULL DEFAULT 'unknown' CHECK (sex IN ('mare', 'stallion', 'gelding', 'unknown')),
    color             text CHECK (length(color) <= 100),
    birth_year        integer CHECK (birth_year BETWEEN 1900 AND 2200),
    discipline        text CHECK (length(discipline) <= 200),
    description       text CHECK (length(description) <= 10000),
    owner_user_id     uuid REFERENCES users (id) ON DELETE SET NULL,
    owner_business_id uuid,
    created_by        uuid NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    search            tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple', coalesce(name, '')), 'A')
        || setweight(to_tsvector('simple',
               coalesce(breed, '') || ' ' || coalesce(discipline, '') || ' ' || coalesce(color, '')), 'B')
    ) STORED,
    FOREIGN KEY (tenant_id, owner_business_id) REFERENCES businesses (tenant_id, id)
        ON DELETE SET NULL (owner_business_id)
);
CREATE INDEX horses_keyset_idx ON horses (tenant_id, created_at DESC, id DESC);
CREATE INDEX horses_owner_user_keyset_idx ON horses (tenant_id, owner_user_id, created_at DESC, id DESC)
    WHERE owner_user_id IS NOT NULL;
CREATE INDEX horses_owner_business_keyset_idx ON horses (tenant_id, owner_business_id, created_at DESC, id DESC)
    WHERE owner_business_id IS NOT NULL;
CREATE INDEX horses_search_idx ON horses USING gin (tenant_id, search);
CREATE INDEX horses_name_trgm_idx ON horses USING gin (tenant_id, name gin_trgm_ops);
CREATE INDEX horses_owner_user_fk_idx ON horses (owner_user_id) WHERE owner_user_id IS NOT NULL;
CREATE TRIGGER horses_updated_at BEFORE UPDATE ON horses
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

ALTER TABLE profiles ENABLE ROW LEVEL SECURITY;
ALTER TABLE profiles FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON profiles
    USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

ALTER TABLE businesses ENABLE ROW LEVEL SECURITY;
ALTER TABLE businesses FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON businesses
    USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

ALTER TABLE business_members ENABLE ROW LEVEL SECURITY;
ALTER TABLE business_members FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON business_members
    USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

ALTER TABLE horses ENABLE ROW LEVEL SECURITY;
ALTER TABLE horses FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON horses
    USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

GRANT SELECT, INSERT, UPDATE, DELETE ON profiles, businesses, business_members, horses TO corral_app;
