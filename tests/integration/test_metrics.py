"""Metrics (DESIGN §6) are exact across several gunicorn workers and labelled by route template."""

import requests

from tests.support.metrics import scrape, value
from tests.support.services import audit_service, wait_for

ITEM_ROUTE = "/items/<item_id>"


def test_counters_move_by_exactly_the_traffic_sent(items, audit):
    base, base_ops = items.url, items.ops_url
    before_items, before_audit = scrape(base_ops), scrape(audit.ops_url)
    session = requests.Session()

    created = [session.post(f"{base}/items", json={"name": f"m{n}"}).json() for n in range(5)]
    listed = session.get(f"{base}/items?limit=500").json()
    for item in created[:3]:
        session.get(f"{base}/items/{item['id']}")
    for item in created[:2]:
        session.put(f"{base}/items/{item['id']}", json={"name": "changed"})
    session.delete(f"{base}/items/{created[0]['id']}")
    session.get(f"{base}/items/{created[0]['id']}")  # 404: nothing retrieved
    session.post(f"{base}/items", json={"name": ""})  # 400: nothing created
    audited_requests = 5 + 1 + 3 + 2 + 1 + 1 + 1

    def delivered_and_backlog_sampled():
        samples = scrape(base_ops)
        delivered = value(samples, "audit_events_delivered_total") - value(
            before_items, "audit_events_delivered_total"
        )
        # The backlog gauge is sampled at most once a second by each relay.
        return delivered >= audited_requests and value(samples, "audit_outbox_pending") == 0

    wait_for(delivered_and_backlog_sampled, message="the events to be delivered")
    after_items, after_audit = scrape(base_ops), scrape(audit.ops_url)

    def delta(samples_after, samples_before, name, **labels):
        return value(samples_after, name, **labels) - value(samples_before, name, **labels)

    assert delta(after_items, before_items, "items_created_total") == 5
    assert delta(after_items, before_items, "items_retrieved_total") == len(listed) + 3
    assert delta(after_items, before_items, "items_updated_total") == 2
    assert delta(after_items, before_items, "items_deleted_total") == 1
    assert delta(after_items, before_items, "audit_events_delivered_total") == audited_requests
    assert delta(after_audit, before_audit, "audit_events_processed_total", result="stored") == (
        audited_requests
    )
    assert value(after_items, "audit_outbox_pending") == 0

    def requests_counted(method, route, status):
        name = "http_request_duration_seconds_count"
        labels = {"method": method, "route": route, "status": status}
        return delta(after_items, before_items, name, **labels)

    assert requests_counted("POST", "/items", "201") == 5
    assert requests_counted("POST", "/items", "400") == 1
    assert requests_counted("GET", ITEM_ROUTE, "200") == 3
    assert requests_counted("GET", ITEM_ROUTE, "404") == 1
    assert requests_counted("PUT", ITEM_ROUTE, "200") == 2
    assert requests_counted("DELETE", ITEM_ROUTE, "204") == 1


def test_routes_are_templates_never_raw_paths(items):
    requests.get(f"{items.url}/items/12345")
    requests.get(f"{items.url}/no/such/path/98765")
    requests.request("BREW", f"{items.url}/items")

    routes = {
        dict(labels)["route"]
        for (name, labels) in scrape(items.ops_url)
        if name.startswith("http_request_duration_seconds")
    }
    methods = {
        dict(labels)["method"]
        for (name, labels) in scrape(items.ops_url)
        if name.startswith("http_request_duration_seconds")
    }

    assert ITEM_ROUTE in routes and "unmatched" in routes
    assert not any(any(ch.isdigit() for ch in route) for route in routes), routes
    assert "BREW" not in methods and "OTHER" in methods


def test_database_query_durations_are_labelled_by_operation(items, audit):
    requests.post(f"{items.url}/items", json={"name": "timed"})

    def operations(url):
        return {
            dict(labels)["operation"]
            for (name, labels) in scrape(url)
            if name == "db_query_duration_seconds_count"
        }

    assert {"item_insert", "outbox_insert", "commit"} <= operations(items.ops_url)
    assert wait_for(lambda: "event_insert" in operations(audit.ops_url), message="audit's insert")
    assert "outbox_claim" in operations(items.ops_url)


def test_both_services_export_every_metric_the_design_names(items, audit):
    requests.post(f"{items.url}/items", json={"name": "for the histograms"})
    wait_for(lambda: value(scrape(items.ops_url), "audit_outbox_pending") == 0, message="delivery")

    items_names = {name for name, _ in scrape(items.ops_url)}
    audit_names = {name for name, _ in scrape(audit.ops_url)}

    for names in (items_names, audit_names):
        assert {"http_request_duration_seconds_bucket", "db_query_duration_seconds_bucket"} <= names
    assert {
        "items_created_total",
        "items_retrieved_total",
        "items_updated_total",
        "items_deleted_total",
        "audit_outbox_pending",
        "audit_events_delivered_total",
        "audit_delivery_lag_seconds_bucket",
    } <= items_names
    assert "audit_events_processed_total" in audit_names


def test_every_result_of_audit_service_is_counted_from_the_start(database):
    """A fresh audit-service exports each result's series at 0, so that
    rate() and alerts see the first rejection or conflict."""
    fresh = audit_service(database)
    try:
        fresh.start()
        samples = scrape(fresh.ops_url)
    finally:
        fresh.close()

    for result in ("stored", "duplicate", "rejected", "conflict"):
        assert samples[("audit_events_processed_total", (("result", result),))] == 0, result


def test_metrics_are_served_on_the_operations_port_only(items, audit):
    for service in (items, audit):
        on_service_port = requests.get(f"{service.url}/metrics", timeout=5)
        assert on_service_port.status_code == 404
        assert on_service_port.headers["Content-Type"] == "application/problem+json"

        on_ops_port = requests.get(f"{service.ops_url}/metrics", timeout=5)
        assert on_ops_port.status_code == 200
        assert "http_request_duration_seconds" in on_ops_port.text


def test_no_header_reaches_the_metrics_through_the_service_port(items):
    """Requests are routed to the operations app by the port that accepted them."""
    forged_host = {"Host": f"127.0.0.1:{items.ops_port}"}

    response = requests.get(f"{items.url}/metrics", headers=forged_host, timeout=5)

    assert response.status_code == 404


def test_the_operations_port_serves_probes_and_metrics_and_nothing_else(items):
    assert requests.get(f"{items.ops_url}/healthz", timeout=5).json() == {"status": "ok"}
    assert requests.get(f"{items.ops_url}/readyz", timeout=5).json() == {"status": "ready"}
    for path in ("/items", "/openapi.json"):
        response = requests.get(f"{items.ops_url}{path}", timeout=5)
        assert response.status_code == 404, path
        assert response.headers["Content-Type"] == "application/problem+json"
