DROP TABLE horses;
DROP TABLE business_members;
DROP TABLE businesses;
DROP TABLE profiles;
DROP FUNCTION set_updated_at();
