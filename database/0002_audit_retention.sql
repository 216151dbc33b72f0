-- Retention of the audit trail (DESIGN §4): audit_logs rows older than the
-- retention period are deleted by a periodic job (the audit-retention CronJob)
-- that logs in as audit_retention and can do nothing but call
-- audit_logs_delete_expired: it cannot read the trail, write it, or delete a
-- row younger than a day, whatever retention it asks for.
--
-- Batched DELETE rather than time partitions: audit-service's duplicate check
-- needs event_id unique across the whole table (ON CONFLICT (event_id)), and a
-- partitioned table's unique indexes must include the partition key.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'audit_retention') THEN
        CREATE ROLE audit_retention LOGIN;
    END IF;
END
$$;

-- Deletes up to batch_size of the oldest rows stored more than `retention` ago
-- and returns how many it deleted; the job calls it until it returns 0, one
-- short transaction per batch, so no lock is held for long and autovacuum can
-- reclaim the space between batches.
CREATE OR REPLACE FUNCTION audit_logs_delete_expired(retention interval, batch_size integer)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    deleted integer;
BEGIN
    IF retention IS NULL OR retention < interval '1 day' THEN
        RAISE EXCEPTION 'audit retention must be at least 1 day, not %', retention
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF batch_size IS NULL OR batch_size NOT BETWEEN 1 AND 100000 THEN
        RAISE EXCEPTION 'batch size must be from 1 to 100000, not %', batch_size
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    DELETE FROM public.audit_logs
    WHERE id IN (
        SELECT id FROM public.audit_logs
        WHERE created_at < now() - retention
        ORDER BY created_at
        LIMIT batch_size
    );
    GET DIAGNOSTICS deleted = ROW_COUNT;
    RETURN deleted;
END
$$;

REVOKE ALL ON FUNCTION audit_logs_delete_expired(interval, integer) FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO audit_retention;
GRANT EXECUTE ON FUNCTION audit_logs_delete_expired(interval, integer) TO audit_retention;

-- The default (vacuum once a fifth of the table is dead) would let an hourly
-- job's deletions pile up for days of the period before their space is reused;
-- at 1 % the table stays within about 1 % of what the period holds.
ALTER TABLE audit_logs SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000);
