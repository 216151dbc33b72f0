-- Schema of the items and audit services.
--
-- Idempotent plain SQL: safe to run again, in any client, and in a second
-- database of the same server. Run it as a superuser (or the database owner
-- with CREATEROLE). The two login roles are created without a password; the
-- deployment sets their passwords after applying this file.

-- Login roles are cluster-wide, so they are created only when absent.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'items_service') THEN
        CREATE ROLE items_service LOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'audit_service') THEN
        CREATE ROLE audit_service LOGIN;
    END IF;
END
$$;

CREATE TABLE IF NOT EXISTS items (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        varchar(200)  NOT NULL CHECK (btrim(name) <> ''),
    description varchar(2000) NOT NULL DEFAULT '',
    created_at  timestamptz   NOT NULL DEFAULT now(),
    updated_at  timestamptz   NOT NULL DEFAULT now()
);

-- Transactional outbox: items-service writes each audit event here in the
-- same transaction as the change it describes; its relay delivers the rows to
-- audit-service and deletes them once audit-service has committed them.
-- A row audit-service rejects stays, with failed_at and last_error set.
CREATE TABLE IF NOT EXISTS audit_outbox (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id   uuid        NOT NULL UNIQUE,
    payload    jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    attempts   integer     NOT NULL DEFAULT 0,
    last_error text,
    failed_at  timestamptz
);

-- The relay's claim query scans only deliverable rows, in id order.
CREATE INDEX IF NOT EXISTS audit_outbox_deliverable_idx
    ON audit_outbox (id) WHERE failed_at IS NULL;

CREATE TABLE IF NOT EXISTS audit_logs (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id      uuid        NOT NULL,
    service       varchar(64) NOT NULL,
    action        varchar(64) NOT NULL,
    resource_type varchar(64) NOT NULL,
    resource_id   varchar(64),
    status_code   smallint    NOT NULL,
    request_id    varchar(128) NOT NULL,
    client_ip     inet,
    details       jsonb       NOT NULL DEFAULT '{}'::jsonb,
    occurred_at   timestamptz NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Redelivered events are dropped by ON CONFLICT (event_id) DO NOTHING.
CREATE UNIQUE INDEX IF NOT EXISTS audit_logs_event_id_key ON audit_logs (event_id);
CREATE INDEX IF NOT EXISTS audit_logs_created_at_idx ON audit_logs (created_at DESC);

-- Least privilege: each service reaches only its own tables. PostgreSQL 15
-- already denies CREATE in public to PUBLIC; older servers do not.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
REVOKE ALL ON items, audit_outbox, audit_logs FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO items_service, audit_service;
GRANT SELECT, INSERT, UPDATE, DELETE ON items, audit_outbox TO items_service;
GRANT SELECT, INSERT ON audit_logs TO audit_service;
