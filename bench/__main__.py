"""HTTP benchmark of items-service (audit-service running) against two baselines
measured in the same run, scenario by scenario and under the same gunicorn
settings: the bare Flask ceiling (the same routes answering from memory) and
the naive peer (a database connection and a synchronous audit POST per
request). `bench/run`, or `.venv/bin/python -m bench`.

Prints, per scenario and concurrency, throughput and latency, the ratios to
both baselines and the CPU each request cost items-service, audit-service and
PostgreSQL; then the audit delivery lag under load, how long the backlog takes
to drain once the load stops, an exact count of the audit trail against the
requests answered, where a request's CPU goes (py-spy), pgbench's ceiling for
the same write, and the outbox drain after an audit-service outage. Writes
everything to bench/results/http.json. Figures, not pass/fail: compare ratios
measured in the same run, and read them with the load averages printed.
"""

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from bench import audit_check, cpu, delivery, machine, pgbench, profile, stack, wrk
from service_common.gunicorn_settings import THREADS_PER_WORKER
from tests.support.database import create_database, drop_database
from tests.support.metrics import scrape, value
from tests.support.services import ServiceProcess

SCENARIOS = {
    "POST /items": "post_items",
    "GET /items/{id}": "get_item",
    "GET /items?limit=100": "list_items",
    "mixed 60/20/10/10": "mixed",
}
CEILING, PEER, ITEMS = "ceiling", "naive peer", "items-service"
CONNECTION_LEVELS = (4, 16, 64)
PGBENCH_LEVELS = (4, 16)
TARGET_CONNECTIONS = 16
OUTAGE_SECONDS = 30
DRAIN_TIMEOUT_SECONDS = 120
RESULTS = stack.BENCH / "results" / "http.json"
PROFILES = stack.BENCH / "results"
# Issue 13's goals, at TARGET_CONNECTIONS.
GOALS = {
    "ratio_to_ceiling": 0.40,
    "post_ratio_to_peer": 10.0,
    "p99_ms": 25.0,
    "lag_p99_ms": 250.0,
    "drain_seconds": 2.0,
}


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--seconds", type=int, default=5, help="length of each load run (default 5)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="runs of each target per scenario and concurrency, interleaved (default 2)",
    )
    parser.add_argument(
        "--connections",
        type=int,
        nargs="+",
        default=CONNECTION_LEVELS,
        help=f"concurrency levels (default {' '.join(map(str, CONNECTION_LEVELS))};"
        f" {TARGET_CONNECTIONS} is always measured)",
    )
    parser.add_argument(
        "--no-profile", action="store_true", help="skip the py-spy profile of POST /items"
    )
    return parser.parse_args()


def require_tools() -> None:
    missing = [tool for tool in ("wrk", "pgbench") if shutil.which(tool) is None]
    if missing:
        sys.exit(
            f"missing: {', '.join(missing)} (scripts/setup/45-load-tools.sh and 10-postgres.sh)"
        )


def print_run(label: str, target: str, connections: int, figures: dict, extra: str = "") -> None:
    """One load run's line: throughput (requests, or pgbench's transactions) and latency."""
    if "transactions_per_second" in figures:
        rate = f"{figures['transactions_per_second']:>8.1f} tx/s "
    else:
        rate = f"{figures['requests_per_second']:>8.1f} req/s"
    print(
        f"  {label:<22} {target:<14} {connections:>3} conns {rate}"
        f"  p50 {figures['p50_ms']:6.1f}  p99 {figures['p99_ms']:6.1f} ms{extra}",
        flush=True,
    )


def now() -> datetime:
    return datetime.now(UTC)


def load_average() -> float:
    return round(os.getloadavg()[0], 1)


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


@dataclass(frozen=True)
class Target:
    """A service under load, and the processes whose CPU its requests cost."""

    name: str
    service: ServiceProcess
    meter: cpu.Meter


class Bench:
    def __init__(self, database, seconds: int, rounds: int):
        self.database = database
        self.seconds = seconds
        self.rounds = rounds
        self.results: list[dict] = []

    def compare(
        self, label: str, connections: int, targets: list[Target], values: dict | None
    ) -> dict[str, dict]:
        """Each target loaded `rounds` times, interleaved, the order reversed every
        other round, so that a change in what else the machine runs falls on all
        alike; figures combined per target."""
        runs: dict[str, list[dict]] = {target.name: [] for target in targets}
        for round_number in range(self.rounds):
            for target in targets if round_number % 2 == 0 else targets[::-1]:
                runs[target.name].append(self.once(target, label, connections, values))
        combined = {name: _combined(target_runs) for name, target_runs in runs.items()}
        for name, figures in combined.items():
            self.results.append(figures)
            errors = sum(figures["errors"].values())
            print_run(
                label,
                name,
                connections,
                figures,
                f"  cpu/request {_cpu_text(figures['cpu_ms_per_request'])}"
                + (f"  ERRORS {figures['errors']}" if errors else ""),
            )
        return combined

    def once(
        self, target: Target, label: str, connections: int, values: dict | None = None
    ) -> dict:
        """One load run; its CPU includes the delivery of the run's events."""
        target.meter.start()
        result = wrk.run(target.service.url, SCENARIOS[label], connections, self.seconds, values)
        ended = time.monotonic()
        delivery.wait_for_empty_outbox(self.database, DRAIN_TIMEOUT_SECONDS)
        return {
            "target": target.name,
            "label": label,
            **result.as_dict(),
            "cpu_ms_per_request": target.meter.per_request(result.requests),
            "outbox_empty_seconds_after_load": round(time.monotonic() - ended, 2),
            "load_average": load_average(),
        }

    def ids(self) -> dict[str, int]:
        first, last = self.database.query("SELECT min(id), max(id) FROM items")[0]
        return {"FIRST_ID": first, "LAST_ID": last}


def _combined(runs: list[dict]) -> dict:
    """The rounds of one target as one figure: throughput over all of them, the
    mean of their percentiles, CPU per request weighted by their requests."""
    requests = sum(run["requests"] for run in runs)
    seconds = sum(run["seconds"] for run in runs)
    cpu_names = runs[0]["cpu_ms_per_request"]
    return {
        **{key: runs[0][key] for key in ("target", "label", "scenario", "connections")},
        "rounds": len(runs),
        "run_ids": [run["run_id"] for run in runs],
        "seconds": round(seconds, 2),
        "requests": requests,
        "requests_per_second": round(requests / seconds, 1),
        **{
            key: round(statistics.mean(run[key] for run in runs), 2)
            for key in ("p50_ms", "p95_ms", "p99_ms")
        },
        "max_ms": max(run["max_ms"] for run in runs),
        "errors": {kind: sum(run["errors"][kind] for run in runs) for kind in runs[0]["errors"]},
        "cpu_ms_per_request": {
            name: round(
                sum(run["cpu_ms_per_request"][name] * run["requests"] for run in runs)
                / max(requests, 1),
                3,
            )
            for name in cpu_names
        },
        "outbox_empty_seconds_after_load": max(
            run["outbox_empty_seconds_after_load"] for run in runs
        ),
        "load_average": [run["load_average"] for run in runs],
    }


def _cpu_text(figures: dict[str, float]) -> str:
    return " ".join(f"{name} {ms:.2f}" for name, ms in figures.items() if ms)


def pick(report: dict, target: str, label: str, connections: int = TARGET_CONNECTIONS) -> dict:
    return next(
        r
        for r in report["runs"]
        if r["target"] == target and r["label"] == label and r["connections"] == connections
    )


def measure(run: Run, seconds: int, rounds: int, levels: list[int], with_profile: bool) -> dict:
    database = run.database
    bench = Bench(database, seconds, rounds)
    report: dict = {
        "machine": machine.describe(database),
        "seconds_per_run": seconds,
        "rounds": rounds,
        "gunicorn": f"WEB_CONCURRENCY=2, gthread x{THREADS_PER_WORKER}, JSON access log"
        " (production settings, for items-service and both baselines)",
        "runs": bench.results,
    }

    audit = run.start(stack.audit(database))
    items = run.start(stack.items(database, audit.url))
    ceiling = run.start(stack.ceiling())
    peer = run.start(stack.naive_peer(database, audit.url))
    targets = [
        Target(CEILING, ceiling, cpu.Meter({"ceiling": ceiling.process.pid, "postgres": 0})),
        Target(
            PEER,
            peer,
            cpu.Meter({"peer": peer.process.pid, "audit": audit.process.pid, "postgres": 0}),
        ),
        Target(
            ITEMS,
            items,
            cpu.Meter({"items": items.process.pid, "audit": audit.process.pid, "postgres": 0}),
        ),
    ]
    for target in targets:  # warm-up: connections, caches, prepared statements
        wrk.run(target.service.url, "post_items", TARGET_CONNECTIONS, 3)
    delivery.wait_for_empty_outbox(database, DRAIN_TIMEOUT_SECONDS)

    print(
        f"Each scenario: the ceiling, the naive peer and items-service, {rounds} rounds of"
        f" {seconds}s each, interleaved; CPU in ms per request"
        f" (load average now {load_average()})",
        flush=True,
    )
    for label in SCENARIOS:
        values = None if label == "POST /items" else bench.ids()
        for connections in levels:
            since = now()
            figures = bench.compare(label, connections, targets, values)
            if (label, connections) == ("POST /items", TARGET_CONNECTIONS):
                report["delivery_under_post_load"] = {
                    "connections": connections,
                    **delivery.lag_percentiles(database, "item.create", since, now()),
                    "backlog_drained_seconds": figures[ITEMS]["outbox_empty_seconds_after_load"],
                }

    if with_profile:
        report["profile_post_items"] = {
            target.name: profile_post_items(bench, target)
            for target in targets
            if target.name in (CEILING, ITEMS)
        }

    report["audit_trail"] = audit_check.check(database, items.ops_url)
    items.stop()
    peer.stop()
    ceiling.stop()

    print("items-service with the relay off (events stay in the outbox)", flush=True)
    relay_off = run.start(stack.items_without_relay(database, audit.url))
    relay_off_result = wrk.run(relay_off.url, "post_items", TARGET_CONNECTIONS, seconds)
    bench.results.append(
        {"target": "relay off", "label": "POST /items", **relay_off_result.as_dict()}
    )
    print_run("POST /items", "relay off", TARGET_CONNECTIONS, relay_off_result.as_dict())
    relay_off.stop()

    print(
        "Database ceiling: pgbench, the statement POST /items runs (item + outbox row)", flush=True
    )
    report["pgbench"] = []
    for connections in PGBENCH_LEVELS:
        figures = pgbench.run(database, connections, seconds * rounds)
        report["pgbench"].append(figures)
        print_run("pgbench item + outbox", "", connections, figures)
    # What the relay-off run and pgbench left in the outbox is not part of the backlog below.
    database.query("TRUNCATE audit_outbox; SELECT 1")

    print(f"audit-service down for {OUTAGE_SECONDS}s under POST load, then back", flush=True)
    items.start()
    audit.stop()
    outage = wrk.run(items.url, "post_items", TARGET_CONNECTIONS, OUTAGE_SECONDS)
    print_run("POST /items", "audit down", TARGET_CONNECTIONS, outage.as_dict())
    bench.results.append({"target": "audit down", "label": "POST /items", **outage.as_dict()})
    backlog = database.count("audit_outbox")
    audit.start()
    report["drain_after_outage"] = {
        "outage_seconds": OUTAGE_SECONDS,
        **delivery.drain(database, backlog, DRAIN_TIMEOUT_SECONDS),
    }
    return report


def profile_post_items(bench: Bench, target: Target) -> dict:
    """py-spy on a target's workers under POST load: interpreter time per
    request by category; and, for items-service, from its own metrics, how much
    of the time a request spends in the server is its database statement."""
    print(f"Profiling {target.name} with py-spy under POST /items", flush=True)
    samples = PROFILES / f"post-items-{target.name.replace(' ', '-')}.txt"
    samples.parent.mkdir(exist_ok=True)
    before = scrape(target.service.ops_url) if target.name == ITEMS else {}
    sampler = profile.start(target.service, bench.seconds, samples)
    time.sleep(1)  # py-spy attaches before the load starts
    figures = bench.once(target, "POST /items", TARGET_CONNECTIONS)
    profile.finish(sampler, 60)
    print_run("POST /items", f"{target.name} (py-spy)", TARGET_CONNECTIONS, figures)
    result = {
        "samples": str(samples),
        "requests": figures["requests"],
        "interpreter_ms_per_request": profile.breakdown(samples, figures["requests"]),
        "cpu_ms_per_request": figures["cpu_ms_per_request"],
        "client_latency_ms": {"p50": figures["p50_ms"], "p99": figures["p99_ms"]},
    }
    if target.name == ITEMS:
        after = scrape(target.service.ops_url)

        def mean_ms(name: str, **labels) -> float:
            total = value(after, f"{name}_sum", **labels) - value(before, f"{name}_sum", **labels)
            count = value(after, f"{name}_count", **labels) - value(
                before, f"{name}_count", **labels
            )
            return round(1000 * total / max(count, 1), 2)

        result["server_ms_per_request"] = mean_ms(
            "http_request_duration_seconds", method="POST", route="/items", status="201"
        )
        result["statement_ms_per_request"] = mean_ms(
            "db_query_duration_seconds", operation="item_insert"
        )
    return result


def ratios(report: dict, levels: list[int]) -> list[dict]:
    table = []
    for label in SCENARIOS:
        for connections in levels:
            ours = pick(report, ITEMS, label, connections)
            ceiling = pick(report, CEILING, label, connections)["requests_per_second"]
            peer = pick(report, PEER, label, connections)["requests_per_second"]
            table.append(
                {
                    "label": label,
                    "connections": connections,
                    "requests_per_second": ours["requests_per_second"],
                    "p50_ms": ours["p50_ms"],
                    "p99_ms": ours["p99_ms"],
                    "ceiling_requests_per_second": ceiling,
                    "peer_requests_per_second": peer,
                    "ratio_to_ceiling": round(ours["requests_per_second"] / ceiling, 2),
                    "ratio_to_peer": round(ours["requests_per_second"] / peer, 1),
                    "cpu_ms_per_request": ours["cpu_ms_per_request"],
                }
            )
    return table


def goals(report: dict) -> list[tuple[str, bool]]:
    at_target = {
        row["label"]: row for row in report["ratios"] if row["connections"] == TARGET_CONNECTIONS
    }
    post = at_target["POST /items"]
    delivery_figures = report["delivery_under_post_load"]
    checks = [
        (
            f"POST /items >= {GOALS['ratio_to_ceiling']} x ceiling",
            post["ratio_to_ceiling"] >= GOALS["ratio_to_ceiling"],
        ),
        (
            f"POST /items >= {GOALS['post_ratio_to_peer']:.0f} x naive peer",
            post["ratio_to_peer"] >= GOALS["post_ratio_to_peer"],
        ),
    ]
    for label in ("POST /items", "GET /items/{id}", "GET /items?limit=100"):
        if label != "POST /items":
            checks.append(
                (
                    f"{label} >= {GOALS['ratio_to_ceiling']} x ceiling",
                    at_target[label]["ratio_to_ceiling"] >= GOALS["ratio_to_ceiling"],
                )
            )
        checks.append(
            (
                f"{label} p99 <= {GOALS['p99_ms']:.0f} ms",
                at_target[label]["p99_ms"] <= GOALS["p99_ms"],
            )
        )
    checks += [
        (
            f"audit delivery lag p99 <= {GOALS['lag_p99_ms']:.0f} ms",
            delivery_figures["p99_ms"] <= GOALS["lag_p99_ms"],
        ),
        (
            f"backlog drained <= {GOALS['drain_seconds']:.0f} s after the load",
            delivery_figures["backlog_drained_seconds"] <= GOALS["drain_seconds"],
        ),
        ("every request audited exactly once", report["audit_trail"]["exactly_once"]),
    ]
    return checks


def print_summary(report: dict) -> None:
    print(
        "\nitems-service against the baselines measured with it (same run, same machine):"
        f"\n  {'scenario':<22} {'conns':>5} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7}"
        f" {'x ceiling':>10} {'x peer':>7}  CPU ms/request (items audit postgres)"
    )
    for row in report["ratios"]:
        cpu_figures = row["cpu_ms_per_request"]
        print(
            f"  {row['label']:<22} {row['connections']:>5} {row['requests_per_second']:>8.1f}"
            f" {row['p50_ms']:>7.1f} {row['p99_ms']:>7.1f} {row['ratio_to_ceiling']:>10.2f}"
            f" {row['ratio_to_peer']:>7.1f}  {cpu_figures['items']:.2f}"
            f" {cpu_figures['audit']:.2f} {cpu_figures['postgres']:.2f}"
        )
    lag = report["delivery_under_post_load"]
    print(
        f"Audit delivery lag (written -> stored) under POST load: p50 {lag['p50_ms']} ms,"
        f" p99 {lag['p99_ms']} ms over {lag['events']} events; outbox empty"
        f" {lag['backlog_drained_seconds']} s after the load stopped"
    )
    trail = report["audit_trail"]
    print(
        f"Audit trail: {trail['requests_answered']} requests answered, {trail['audit_rows']} rows,"
        f" {trail['requests_with_a_row']} distinct request ids:"
        f" {'exactly once' if trail['exactly_once'] else 'NOT exactly once'}"
    )
    drain = report["drain_after_outage"]
    print(
        f"After {drain['outage_seconds']}s of audit-service down under load:"
        f" {drain['backlog_events']} events queued; first delivery"
        f" {drain['seconds_to_first_delivery']}s after restart (relay back-off), outbox empty after"
        f" {drain['seconds_to_empty']}s; drain rate {drain['drain_events_per_second']} events/s"
    )
    if "profile_post_items" in report:
        print_profiles(report["profile_post_items"])
    print("Goals of issue 13 at 16 connections:")
    for name, met in goals(report):
        print(f"  {'met    ' if met else 'NOT met'}  {name}")
    machine_figures = report["machine"]
    print(
        f"\nMachine: {machine_figures['cores']} x {machine_figures['cpu']},"
        f" load average at start {machine_figures['load_average_at_start']},"
        f" at the end {os.getloadavg()}"
    )


def print_profiles(profiles: dict[str, dict]) -> None:
    items, ceiling = profiles[ITEMS], profiles[CEILING]
    print(
        f"Where a POST /items goes, at {TARGET_CONNECTIONS} connections (py-spy; raw stacks in"
        f" {PROFILES.relative_to(stack.REPOSITORY)}):"
        f"\n  in items-service {items['server_ms_per_request']} ms per request (its own metrics),"
        f" of which its one database statement {items['statement_ms_per_request']} ms;"
        f" clients saw p50 {items['client_latency_ms']['p50']} ms"
        f"\n  CPU per request, items-service: {_cpu_text(items['cpu_ms_per_request'])} ms;"
        f" ceiling: {_cpu_text(ceiling['cpu_ms_per_request'])} ms"
        f"\n  interpreter time per request, by what it was doing:"
        f"\n    {'items-service':>13} {'ceiling':>8}"
    )
    ours, theirs = (dict(figures["interpreter_ms_per_request"]) for figures in (items, ceiling))
    for name in sorted({*ours, *theirs}, key=lambda name: -ours.get(name, 0.0)):
        print(f"    {ours.get(name, 0.0):10.3f} ms {theirs.get(name, 0.0):6.3f} ms  {name}")
    print(f"    {sum(ours.values()):10.3f} ms {sum(theirs.values()):6.3f} ms  in all")


def main() -> None:
    options = arguments()
    require_tools()
    levels = sorted({*options.connections, TARGET_CONNECTIONS})
    started = time.monotonic()
    run = Run()
    try:
        report = measure(run, options.seconds, options.rounds, levels, not options.no_profile)
    finally:
        run.close()
    report["ratios"] = ratios(report, levels)
    report["wall_seconds"] = round(time.monotonic() - started)
    report["finished_at"] = now().isoformat()
    print_summary(report)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"Written to {RESULTS.relative_to(stack.BENCH.parent)} in {report['wall_seconds']}s")


main()
