-- Runs once, when the PostgreSQL volume is created, as the superuser (deploy/postgres-init.sh
-- passes the passwords from the compose secrets). One role per job:
--   callwright_owner  owns the `callwright` database and schema; `callwright migrate` only
--   callwright_app    rows only (SELECT, INSERT, UPDATE, DELETE): the API and the worker
--   temporal          Temporal's own databases (auto-setup creates them: CREATEDB)
-- The superuser itself is used by nothing else.
\set ON_ERROR_STOP on

CREATE ROLE callwright_owner LOGIN PASSWORD :'owner_password';
CREATE ROLE callwright_app LOGIN PASSWORD :'app_password';
CREATE ROLE temporal LOGIN CREATEDB PASSWORD :'temporal_password';

CREATE DATABASE callwright OWNER callwright_owner;
REVOKE ALL ON DATABASE callwright FROM PUBLIC;
GRANT CONNECT ON DATABASE callwright TO callwright_app;

\connect callwright
-- pgvector is not a trusted extension: the superuser creates it here, and the first
-- migration's `CREATE EXTENSION IF NOT EXISTS vector` finds it.
CREATE EXTENSION IF NOT EXISTS vector;
ALTER SCHEMA public OWNER TO callwright_owner;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO callwright_app;
-- Whatever the owner's migrations create, the app may use its rows, and nothing more.
ALTER DEFAULT PRIVILEGES FOR ROLE callwright_owner IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO callwright_app;
ALTER DEFAULT PRIVILEGES FOR ROLE callwright_owner IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO callwright_app;
ALTER DEFAULT PRIVILEGES FOR ROLE callwright_owner IN SCHEMA public
    GRANT EXECUTE ON FUNCTIONS TO callwright_app;
