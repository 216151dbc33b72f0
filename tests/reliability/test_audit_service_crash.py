"""audit-service killed outright (SIGKILL, as an OOM kill) in the middle of a
steady stream: items clients notice nothing, and once audit-service is back
every request has exactly one audit row. Extends test_delivery_guarantee (a
clean stop with no traffic) to a crash under load, with batches in flight."""

import time

from tests.reliability.load import SteadyLoad, create_or_list, failures
from tests.reliability.processes import kill_hard
from tests.support.audit_trail import assert_audited_exactly_once
from tests.support.metrics import scrape, value
from tests.support.services import audit_service, items_service, wait_for

DOWN_SECONDS = 6


def test_no_request_fails_and_no_event_is_lost_or_doubled(database, services):
    audit = audit_service(database).start()
    services.append(audit)
    items = items_service(database, audit.url).start()
    services.append(items)

    with SteadyLoad(create_or_list(items.url)) as load:
        wait_for(lambda: load.count() >= 100, message="the stream to be under way")
        kill_hard(audit)
        time.sleep(DOWN_SECONDS)
        audit.start()
        served = load.count()
        wait_for(lambda: load.count() >= served + 100, message="traffic after the restart")
        outcomes = load.stop()

    assert failures(outcomes) == [], "no items request may fail while audit-service is down"
    assert_audited_exactly_once(database, {outcome.request_id for outcome in outcomes})
    samples = scrape(items.ops_url)
    assert value(samples, "audit_delivery_failures_total", reason="unavailable") > 0, (
        "the crash must have interrupted deliveries"
    )
    print(
        f"\n{len(outcomes)} requests, audit-service down {DOWN_SECONDS}s,"
        f" max latency {max(o.seconds for o in outcomes) * 1000:.0f} ms"
    )
