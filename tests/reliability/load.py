"""A steady stream of HTTP requests from a few threads, recorded one by one.

Each request goes over a fresh connection, as from many independent clients,
and carries its own X-Request-ID so that its audit row can be found.
"""

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import requests

CLIENT_TIMEOUT_SECONDS = 10
# A bound on any stream, whatever the test does.
MAX_STREAM_SECONDS = 120


@dataclass(frozen=True)
class Outcome:
    request_id: str
    started: float  # time.monotonic() when the request was sent
    seconds: float
    status: int | None  # None when no HTTP answer came (connection error, timeout)
    error: str | None
    content_type: str | None = None
    body: str = ""
    retry_after: str | None = None


# A step sends one request with the given X-Request-ID and returns the response.
Step = Callable[[str], requests.Response]


class SteadyLoad:
    def __init__(self, step: Step, threads: int = 4, pause_seconds: float = 0.01):
        self._step = step
        self._pause = pause_seconds
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._outcomes: list[Outcome] = []
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def __enter__(self) -> "SteadyLoad":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.stop()

    def stop(self) -> list[Outcome]:
        self._stop.set()
        for thread in self._threads:
            thread.join(CLIENT_TIMEOUT_SECONDS + 5)
        return self.outcomes()

    def outcomes(self) -> list[Outcome]:
        with self._lock:
            return list(self._outcomes)

    def count(self) -> int:
        with self._lock:
            return len(self._outcomes)

    def _run(self) -> None:
        deadline = time.monotonic() + MAX_STREAM_SECONDS
        while not self._stop.is_set() and time.monotonic() < deadline:
            outcome = self._send()
            with self._lock:
                self._outcomes.append(outcome)
            self._stop.wait(self._pause)

    def _send(self) -> Outcome:
        request_id = f"reliability-{uuid.uuid4().hex}"
        started = time.monotonic()
        try:
            response = self._step(request_id)
        except requests.RequestException as error:
            return Outcome(request_id, started, time.monotonic() - started, None, repr(error))
        return Outcome(
            request_id,
            started,
            time.monotonic() - started,
            response.status_code,
            None,
            response.headers.get("Content-Type"),
            response.text[:500],
            response.headers.get("Retry-After"),
        )


def create_item(base_url: str) -> Step:
    def step(request_id: str) -> requests.Response:
        return requests.post(
            f"{base_url}/items",
            json={"name": f"load {request_id}"},
            headers={"X-Request-ID": request_id},
            timeout=CLIENT_TIMEOUT_SECONDS,
        )

    return step


def create_or_list(base_url: str) -> Step:
    """Writes and reads alternately: POST /items, then GET /items?limit=5."""
    counter = iter(range(10**9))
    lock = threading.Lock()

    def step(request_id: str) -> requests.Response:
        with lock:
            n = next(counter)
        if n % 2:
            return requests.get(
                f"{base_url}/items",
                params={"limit": 5},
                headers={"X-Request-ID": request_id},
                timeout=CLIENT_TIMEOUT_SECONDS,
            )
        return create_item(base_url)(request_id)

    return step


def failures(outcomes: list[Outcome]) -> list[Outcome]:
    return [o for o in outcomes if o.status is None or o.status >= 300]
