"""Slow clients, the cheapest denial of service: connections that trickle a
body one byte a second, and connections that send nothing. gunicorn gives each
connection a thread until its request is read, so a few dozen such clients
would hold all of items-service's threads; in its pod, the proxy in front of
it (items-proxy/nginx.conf) holds them instead, and passes on only complete
requests. Under 50 trickling and 100 idle connections, kept up throughout,
liveness probes and real requests are answered within 1 s: no pod would be
restarted, and clients are served."""

from tests.support.items_proxy import ItemsProxy
from tests.support.services import audit_service, items_service_behind_proxy, wait_for
from tests.support.slow_clients import SlowClients, unanswered

TRICKLING = 50
IDLE = 100
# Longer than the proxy's 10 s client timeouts: the attack reconnects throughout.
ATTACK_SECONDS = 20
# A bound on each answer's wait, as a probe's timeoutSeconds is.
ANSWER_WITHIN_SECONDS = 1.0


def test_slow_and_idle_clients_do_not_starve_items_service(database, services):
    audit = audit_service(database).start()
    services.append(audit)
    items = items_service_behind_proxy(database, audit.url).start()
    services.append(items)
    proxy = ItemsProxy(items.port).start()
    try:
        with SlowClients("127.0.0.1", proxy.port, TRICKLING, IDLE) as attack:
            wait_for(
                lambda: attack.open_connections() == TRICKLING + IDLE,
                message="every attacking connection to be open",
            )
            sent, failed = unanswered(
                [
                    ("GET", f"{proxy.url}/healthz", None),
                    ("GET", proxy.health_url, None),
                    ("POST", f"{proxy.url}/items", {"name": "served"}),
                    ("GET", f"{proxy.url}/items?limit=5", None),
                ],
                ATTACK_SECONDS,
                ANSWER_WITHIN_SECONDS,
            )
            reconnections = attack.reconnections
    finally:
        proxy.close()

    assert failed == [], f"{len(failed)} of {sent} not answered in time"
    assert items.process.poll() is None
    assert reconnections >= IDLE, "the proxy's timeouts closed idle connections; they came back"
