"""Graceful restarts of items-service under a steady stream: a worker told to
stop (SIGTERM, as when gunicorn recycles it) and a full reload (HUP, new
workers replace the old ones). No request may fail, and every request keeps
exactly one audit row although the relays of the old workers stop mid-stream."""

import os
import signal

from tests.reliability.load import SteadyLoad, create_or_list, failures
from tests.reliability.processes import workers
from tests.support.audit_trail import assert_audited_exactly_once
from tests.support.services import audit_service, items_service, wait_for

WORKERS = 2


def replaced(service, old: set[int], how_many: int) -> bool:
    current = workers(service)
    return len(current) == WORKERS and len(current - old) >= how_many


def test_worker_stop_and_reload_drop_no_request(database, services):
    audit = audit_service(database).start()
    services.append(audit)
    items = items_service(database, audit.url).start()
    services.append(items)
    # The service answers as soon as one worker has booted; the other may still be on its way.
    wait_for(lambda: len(workers(items)) == WORKERS, message="both workers to be up")
    original = workers(items)

    with SteadyLoad(create_or_list(items.url)) as load:
        wait_for(lambda: load.count() >= 100, message="the stream to be under way")

        victim = min(original)
        os.kill(victim, signal.SIGTERM)
        wait_for(lambda: replaced(items, original, 1), message="the stopped worker's replacement")
        served = load.count()
        wait_for(lambda: load.count() >= served + 100, message="traffic after the worker restart")

        before_reload = workers(items)
        items.process.send_signal(signal.SIGHUP)
        wait_for(
            lambda: replaced(items, before_reload, WORKERS),
            timeout=30,
            message="every worker to be replaced by the reload",
        )
        served = load.count()
        wait_for(lambda: load.count() >= served + 100, message="traffic after the reload")
        outcomes = load.stop()

    assert failures(outcomes) == [], "no request may fail during a graceful restart"
    assert_audited_exactly_once(database, {outcome.request_id for outcome in outcomes})
    print(
        f"\n{len(outcomes)} requests across a worker stop and a reload,"
        f" max latency {max(o.seconds for o in outcomes) * 1000:.0f} ms"
    )
