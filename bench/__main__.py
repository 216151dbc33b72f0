"""HTTP benchmark of items-service (audit-service running) against baselines
measured in the same run: `bench/run`, or `.venv/bin/python -m bench`.

Prints throughput and latency percentiles per scenario and concurrency, the
ratios to the baselines, the audit delivery lag under load and the outbox drain
rate after an audit-service outage; writes everything to bench/results/http.json.
Figures, not pass/fail: run it on a quiet machine, and compare ratios rather
than absolute numbers across machines.
"""

import argparse
import json
import shutil
import sys
import time
from datetime import UTC, datetime

from bench import delivery, machine, pgbench, profile, stack, wrk
from service_common.gunicorn_settings import THREADS_PER_WORKER
from tests.support.database import create_database, drop_database
from tests.support.services import ServiceProcess

CONNECTION_LEVELS = (4, 16, 64)
PGBENCH_LEVELS = (4, 16)
TARGET_CONNECTIONS = 16
OUTAGE_SECONDS = 30
DRAIN_TIMEOUT_SECONDS = 120
RESULTS = stack.BENCH / "results" / "http.json"
PROFILE = stack.BENCH / "results" / "profile-post-items.txt"


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--seconds", type=int, default=10, help="length of each load run (default 10)"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also sample items-service with py-spy under POST load",
    )
    return parser.parse_args()


def require_tools() -> None:
    missing = [tool for tool in ("wrk", "pgbench") if shutil.which(tool) is None]
    if missing:
        sys.exit(
            f"missing: {', '.join(missing)} (scripts/setup/45-load-tools.sh and 10-postgres.sh)"
        )


def now() -> datetime:
    return datetime.now(UTC)


class Run:
    """The services of one benchmark run; all stopped at the end, whatever happens."""

    def __init__(self):
        self.database = create_database("itemsdb_bench")
        self.services: list[ServiceProcess] = []

    def start(self, service: ServiceProcess) -> ServiceProcess:
        self.services.append(service)
        return service.start()

    def close(self) -> None:
        for service in reversed(self.services):
            service.close()
        drop_database(self.database)


def load(
    results: list,
    label: str,
    url: str,
    scenario: str,
    connections: int,
    seconds: int,
    values: dict | None = None,
) -> wrk.LoadResult:
    result = wrk.run(url, scenario, connections, seconds, values)
    results.append({"label": label, **result.as_dict()})
    print(
        f"  {label:<28} {connections:>3} conns  {result.requests_per_second:>8.1f} req/s"
        f"  p50 {result.p50_ms:6.1f}  p95 {result.p95_ms:6.1f}  p99 {result.p99_ms:6.1f} ms"
        f"  errors {sum(result.errors.values())}",
        flush=True,
    )
    return result


def item_id_range(run: Run) -> dict[str, int]:
    first, last = run.database.query("SELECT min(id), max(id) FROM items")[0]
    return {"FIRST_ID": first, "LAST_ID": last}


def measure(run: Run, seconds: int, with_profile: bool) -> dict:
    database = run.database
    results: list[dict] = []
    report: dict = {
        "machine": machine.describe(database),
        "seconds_per_run": seconds,
        "gunicorn": f"WEB_CONCURRENCY=2, gthread x{THREADS_PER_WORKER}, JSON access log"
        " (production settings)",
        "runs": results,
    }

    print("Baseline: bare Flask under the same gunicorn settings, POST /items, no I/O", flush=True)
    baseline = run.start(stack.flask_baseline())
    for connections in CONNECTION_LEVELS:
        load(results, "flask baseline POST", baseline.url, "post_items", connections, seconds)
    baseline.stop()

    print("items-service (relay on, audit-service running)", flush=True)
    audit = run.start(stack.audit(database))
    items = run.start(stack.items(database, audit.url))
    wrk.run(items.url, "post_items", TARGET_CONNECTIONS, 3)  # warm-up: connections, caches
    delivery.wait_for_empty_outbox(database, DRAIN_TIMEOUT_SECONDS)
    for connections in CONNECTION_LEVELS:
        since = now()
        load(results, "POST /items", items.url, "post_items", connections, seconds)
        until = now()
        delivery.wait_for_empty_outbox(database, DRAIN_TIMEOUT_SECONDS)
        if connections == TARGET_CONNECTIONS:
            report["delivery_lag_under_post_load"] = {
                "connections": connections,
                **delivery.lag_percentiles(database, "item.create", since, until),
            }
    ids = item_id_range(run)
    for label, scenario in (
        ("GET /items/{id}", "get_item"),
        ("GET /items?limit=100", "list_items"),
        ("mixed 60/20/10/10", "mixed"),
    ):
        for connections in CONNECTION_LEVELS:
            load(results, label, items.url, scenario, connections, seconds, ids)
            delivery.wait_for_empty_outbox(database, DRAIN_TIMEOUT_SECONDS)

    if with_profile:
        print(
            f"Profiling items-service workers with py-spy under POST /items ({seconds}s)",
            flush=True,
        )
        sampler = profile.start(items, seconds, PROFILE)
        time.sleep(1)  # py-spy attaches before the load starts
        load(
            results, "POST /items (profiled)", items.url, "post_items", TARGET_CONNECTIONS, seconds
        )
        sampler.wait(60)
        report["profile_post_items"] = profile.summary(PROFILE)
        delivery.wait_for_empty_outbox(database, DRAIN_TIMEOUT_SECONDS)
    items.stop()

    print("items-service with the relay off (events stay in the outbox)", flush=True)
    relay_off = run.start(stack.items_without_relay(database, audit.url))
    load(results, "POST /items relay off", relay_off.url, "post_items", TARGET_CONNECTIONS, seconds)
    relay_off.stop()

    print("Database ceiling: pgbench, the same item + outbox INSERT in one transaction", flush=True)
    report["pgbench"] = []
    for connections in PGBENCH_LEVELS:
        figures = pgbench.run(database, connections, seconds)
        report["pgbench"].append(figures)
        print(
            f"  {'pgbench INSERT item+outbox':<28} {connections:>3} conns"
            f"  {figures['transactions_per_second']:>8.1f} tx/s   p50 {figures['p50_ms']:6.1f}"
            f"  p95 {figures['p95_ms']:6.1f}  p99 {figures['p99_ms']:6.1f} ms",
            flush=True,
        )
    # What the relay-off run and pgbench left in the outbox is not part of the backlog below.
    database.query("TRUNCATE audit_outbox; SELECT 1")

    print(f"audit-service down for {OUTAGE_SECONDS}s under POST load, then back", flush=True)
    items.start()
    audit.stop()
    load(
        results,
        "POST /items, audit down",
        items.url,
        "post_items",
        TARGET_CONNECTIONS,
        OUTAGE_SECONDS,
    )
    backlog = database.count("audit_outbox")
    audit.start()
    report["drain_after_outage"] = {
        "outage_seconds": OUTAGE_SECONDS,
        **delivery.drain(database, backlog, DRAIN_TIMEOUT_SECONDS),
    }
    return report


def pick(report: dict, label: str, connections: int = TARGET_CONNECTIONS) -> dict:
    return next(
        r for r in report["runs"] if r["label"] == label and r["connections"] == connections
    )


def ratios(report: dict) -> dict:
    ceiling = pick(report, "flask baseline POST")["requests_per_second"]
    post = pick(report, "POST /items")
    get = pick(report, "GET /items/{id}")
    relay_off = pick(report, "POST /items relay off")["requests_per_second"]
    database = next(p for p in report["pgbench"] if p["connections"] == TARGET_CONNECTIONS)
    return {
        "connections": TARGET_CONNECTIONS,
        "post_vs_flask_ceiling": round(post["requests_per_second"] / ceiling, 2),
        "get_by_id_vs_flask_ceiling": round(get["requests_per_second"] / ceiling, 2),
        "post_vs_pgbench_ceiling": round(
            post["requests_per_second"] / database["transactions_per_second"], 2
        ),
        "post_relay_on_vs_off": round(post["requests_per_second"] / relay_off, 2),
        "post_p99_ms": post["p99_ms"],
        "targets": {
            "post_vs_flask_ceiling": ">= 0.5",
            "post_p99_ms": "<= 25",
            "get_by_id_vs_flask_ceiling": ">= 0.6",
        },
    }


def print_summary(report: dict) -> None:
    r = report["ratios"]
    lag = report["delivery_lag_under_post_load"]
    drain = report["drain_after_outage"]
    print(f"\nAt {r['connections']} connections:")
    print(f"  POST /items / Flask ceiling      {r['post_vs_flask_ceiling']:.2f}  (target >= 0.5)")
    print(f"  POST /items p99                  {r['post_p99_ms']:.1f} ms  (target <= 25 ms)")
    get_ratio = r["get_by_id_vs_flask_ceiling"]
    print(f"  GET /items/{{id}} / Flask ceiling  {get_ratio:.2f}  (target >= 0.6)")
    print(f"  POST /items / pgbench ceiling    {r['post_vs_pgbench_ceiling']:.2f}")
    print(f"  POST /items relay on / off       {r['post_relay_on_vs_off']:.2f}")
    print(
        f"Audit delivery lag (commit -> stored) under POST load: p50 {lag['p50_ms']} ms,"
        f" p99 {lag['p99_ms']} ms over {lag['events']} events"
    )
    print(
        f"After {drain['outage_seconds']}s of audit-service down under load:"
        f" {drain['backlog_events']} events queued; first delivery"
        f" {drain['seconds_to_first_delivery']}s after restart (relay back-off), outbox empty after"
        f" {drain['seconds_to_empty']}s; drain rate {drain['drain_events_per_second']} events/s"
    )
    if "profile_post_items" in report:
        print(f"py-spy, POST /items: self time per function (raw stacks: {PROFILE})")
        for function, share in report["profile_post_items"]:
            print(f"  {share:5.1f}%  {function}")
    print(
        f"\nMachine: {report['machine']['cores']} x {report['machine']['cpu']},"
        f" load average at start {report['machine']['load_average_at_start']}"
    )


def main() -> None:
    options = arguments()
    require_tools()
    started = time.monotonic()
    run = Run()
    try:
        report = measure(run, options.seconds, options.profile)
    finally:
        run.close()
    report["ratios"] = ratios(report)
    report["wall_seconds"] = round(time.monotonic() - started)
    report["finished_at"] = now().isoformat()
    print_summary(report)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"Written to {RESULTS.relative_to(stack.BENCH.parent)} in {report['wall_seconds']}s")


main()
