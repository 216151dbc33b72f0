"""The database's own ceiling for the write POST /items makes: pgbench running
the statement items-service runs (items_service/store.py: the item and its
outbox row in one statement), prepared, as the service prepares it."""

import os
import re
import statistics
import subprocess
import tempfile
from pathlib import Path

from tests.support.database import TestDatabase

# An event the size and shape of the ones items-service writes (DESIGN §3).
PAYLOAD = (
    '{"event_id": "00000000-0000-4000-8000-000000000000",'
    ' "occurred_at": "2026-11-25T00:00:00.000000Z",'
    ' "service": "items-service", "action": "item.create", "resource_type": "item",'
    ' "resource_id": null, "status_code": 201, "request_id": "0123456789abcdef0123456789abcdef",'
    ' "client_ip": "127.0.0.1", "details": {"item_id": 1, "name": "bench item"}}'
)
# A pgbench script built from constants only: store.INSERT with an event id of
# its own per transaction. (Its time format quotes the colons, which pgbench
# would otherwise read as variables: the same text comes out.)
SCRIPT = f"""\\set n random(1, 1000000000)
WITH item AS (
    INSERT INTO items (name, description) VALUES ('bench item ' || :n, 'created by the benchmark')
    RETURNING id, name, description, created_at, updated_at
), event AS (
    INSERT INTO audit_outbox (event_id, payload)
    SELECT (payload ->> 'event_id')::uuid, payload FROM (
        SELECT jsonb_set(jsonb_set(
            jsonb_set('{PAYLOAD}'::jsonb, '{{event_id}}', to_jsonb(gen_random_uuid()::text)),
            '{{resource_id}}', to_jsonb(id::text)), '{{details,item_id}}', to_jsonb(id)) AS payload
        FROM item
    ) AS chosen
)
SELECT id, row_to_json(shown)::text FROM (
    SELECT id, name, description,
        to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24":"MI":"SS.US"Z"') AS created_at,
        to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24":"MI":"SS.US"Z"') AS updated_at
    FROM item
) AS shown;
"""  # noqa: S608


def run(database: TestDatabase, connections: int, seconds: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="pgbench-") as directory:
        script = Path(directory) / "insert_item.sql"
        script.write_text(SCRIPT)
        finished = subprocess.run(
            [
                "pgbench",
                "-h",
                database.host,
                "-p",
                str(database.port),
                "-U",
                "postgres",
                "-n",
                "--protocol",
                "prepared",
                "-c",
                str(connections),
                "-j",
                str(min(2, connections)),
                "-T",
                str(seconds),
                "-f",
                str(script),
                "-l",
                "--log-prefix",
                f"{directory}/log",
                database.name,
            ],
            # In plain, as the services (bench/stack.py).
            env={**os.environ, "PGSSLMODE": "disable"},
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=True,
        )
        latencies_us = sorted(
            int(line.split()[2])
            for log in Path(directory).glob("log*")
            for line in log.read_text().splitlines()
        )
    tps = float(re.search(r"tps = ([0-9.]+)", finished.stdout).group(1))
    percentiles = statistics.quantiles(latencies_us, n=100)
    return {
        "scenario": "pgbench item + outbox INSERT",
        "connections": connections,
        "transactions": len(latencies_us),
        "transactions_per_second": round(tps, 1),
        "p50_ms": percentiles[49] / 1000,
        "p95_ms": percentiles[94] / 1000,
        "p99_ms": percentiles[98] / 1000,
        "max_ms": latencies_us[-1] / 1000,
    }
