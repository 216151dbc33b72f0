"""The stack's Prometheus, by its HTTP API at `pulumi stack output prometheus_url`, and
what it should scrape: every pod of the namespace that opts in by annotation."""

import re
import time
from datetime import UTC, datetime

import requests

from tests.e2e.stack import NAMESPACE, E2EStack

# monitoring/prometheus.yml's interval: a target appears, or changes health, within two.
SCRAPE_INTERVAL = 15


class Prometheus:
    def __init__(self, url: str):
        self.url = url.rstrip("/")

    def api(self, path: str, **params) -> dict | list:
        response = requests.get(f"{self.url}/api/v1/{path}", params=params, timeout=10)
        response.raise_for_status()
        body = response.json()
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict]:
        data = self.api("query", query=expr)
        assert data["resultType"] == "vector", (expr, data)
        return data["result"]


def opted_in_pods(stack: E2EStack) -> dict[str, dict]:
    """The namespace's running pods whose annotations ask for a scrape, by name."""
    listed = stack.kubectl_json("get", "pods", "--namespace", NAMESPACE)["items"]
    return {
        pod["metadata"]["name"]: pod
        for pod in listed
        if pod["status"].get("phase") == "Running"
        and (pod["metadata"].get("annotations") or {}).get("prometheus.io/scrape") == "true"
    }


def scrape_url(pod: dict) -> str:
    annotations = pod["metadata"]["annotations"]
    return (
        f"http://{pod['status']['podIP']}:{annotations['prometheus.io/port']}"
        f"{annotations.get('prometheus.io/path', '/metrics')}"
    )


def scraped_at(target: dict) -> datetime:
    """A target's lastScrape (RFC 3339 with nanoseconds, which datetime does not take)."""
    stamp = re.sub(r"(\.\d{6})\d*", r"\1", target["lastScrape"]).replace("Z", "+00:00")
    return datetime.fromisoformat(stamp)


def targets_up(prometheus: Prometheus, stack: E2EStack, within: float = 4 * SCRAPE_INTERVAL):
    """Waits until Prometheus' active targets are exactly the opted-in pods, each up as
    a scrape made after the wait began found it (not as an earlier one left it); returns
    (pods, targets by pod name). Fails naming what is missing, down or not scraped."""
    began = datetime.now(UTC)
    deadline = time.monotonic() + within
    while True:
        pods = opted_in_pods(stack)
        active = prometheus.api("targets", state="active")["activeTargets"]
        targets = {target["labels"].get("pod"): target for target in active}
        if set(targets) == set(pods) and all(
            t["health"] == "up" and scraped_at(t) > began for t in targets.values()
        ):
            return pods, targets
        if time.monotonic() > deadline:
            raise AssertionError(
                "Prometheus does not scrape exactly the opted-in pods, each up:"
                f" pods {sorted(pods)}, targets "
                + str(
                    {
                        name: (t["health"], t["lastScrape"], t["lastError"])
                        for name, t in targets.items()
                    }
                )
            )
        time.sleep(2)
