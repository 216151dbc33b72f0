"""A bounded load of POST /items through items_url, in background threads, that records
what every request got: its status, the request id the pod's proxy gave it, the item
it made, or the way it failed. Bounded in count and in time whatever the test does.

Each request opens a connection of its own, as many independent clients would: a
kept-alive connection that the server closes while idle (nginx does so on a graceful
stop) makes the next POST on it fail with no answer, a race every HTTP client knows
and none may hide by retrying a POST. Requests are paced to a fixed rate, well below
the proxy's per-client limit (50 a second per pod, DESIGN §2), so a 429 says the
limit misbehaved, not that the test was greedy."""

import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass

import requests

# The detail of items-service's own 503 (service_common/problems.py) and of the pod's
# proxy's (items-proxy/nginx.conf): which of the two answered.
APPLICATION_503 = "The database is unavailable"
PROXY_503 = "The service is unavailable"
CONNECT_TIMEOUT = 3
READ_TIMEOUT = 40  # above the proxy's 35 s wait for gunicorn


@dataclass(frozen=True)
class Outcome:
    name: str  # the item's name: unique to this request
    kind: str  # "201", "app-503", "proxy-503", "429", another status, or the failure
    started: float  # time.monotonic() when it was sent
    finished: float
    request_id: str | None = None  # X-Request-ID of the answer
    item_id: int | None = None
    detail: str = ""


def failure_kind(error: requests.RequestException) -> str:
    """What a request that got no answer met: the OS error at the root of it."""
    if isinstance(error, requests.ConnectTimeout):
        return "connect-timeout"
    if isinstance(error, requests.ReadTimeout):
        return "read-timeout"
    seen = set()
    pending = [error]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError):
            return "connection-refused"
        if isinstance(current, ConnectionResetError):
            return "connection-reset"
        if type(current).__name__ == "RemoteDisconnected":
            return "closed-without-answer"
        pending.extend(
            item
            for item in (current.__cause__, current.__context__, *getattr(current, "args", ()))
            if isinstance(item, BaseException)
        )
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            pending.append(reason)
    return f"error:{type(error).__name__}"


def classify(response: requests.Response) -> str:
    if response.status_code == 503:
        detail = response.text
        if APPLICATION_503 in detail:
            return "app-503"
        if PROXY_503 in detail:
            return "proxy-503"
    return str(response.status_code)


class PostLoad:
    """POST /items at `rate` a second from `threads` threads, until stop(), `max_requests`
    or `max_seconds`, whichever comes first."""

    def __init__(
        self,
        items_url: str,
        rate: float = 15,
        threads: int = 4,
        max_requests: int = 6000,
        max_seconds: float = 420,
    ):
        self.items_url = items_url
        self.rate = rate
        self.max_requests = max_requests
        self.max_seconds = max_seconds
        self.token = uuid.uuid4().hex[:12]
        self.outcomes: list[Outcome] = []
        self._lock = threading.Lock()
        self._sent = 0
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, name=f"post-load-{n}", daemon=True)
            for n in range(threads)
        ]
        self._started = 0.0

    def __enter__(self) -> "PostLoad":
        self._started = time.monotonic()
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(CONNECT_TIMEOUT + READ_TIMEOUT + 5)

    @property
    def exhausted(self) -> bool:
        """The load stopped on its own bounds (count or time)."""
        with self._lock:
            sent = self._sent
        return sent >= self.max_requests or time.monotonic() - self._started > self.max_seconds

    def _next(self) -> int | None:
        with self._lock:
            if self._sent >= self.max_requests:
                return None
            index = self._sent
            self._sent += 1
            return index

    def _run(self) -> None:
        while not self._stop.is_set():
            index = self._next()
            if index is None:
                return
            due = self._started + index / self.rate
            if due - self._started > self.max_seconds:
                return
            # Pacing, not waiting for a condition: the request's slot in the schedule.
            if self._stop.wait(max(0.0, due - time.monotonic())):
                return
            self._record(self._post(f"load-{self.token}-{index}"))

    def _post(self, name: str) -> Outcome:
        started = time.monotonic()
        try:
            response = requests.post(
                f"{self.items_url}/items",
                json={"name": name, "description": "e2e-pods load"},
                timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
            )
        except requests.RequestException as error:
            return Outcome(
                name, failure_kind(error), started, time.monotonic(), detail=str(error)[:300]
            )
        kind = classify(response)
        item_id = response.json().get("id") if response.status_code == 201 else None
        return Outcome(
            name,
            kind,
            started,
            time.monotonic(),
            request_id=response.headers.get("X-Request-ID"),
            item_id=item_id,
            detail="" if response.status_code == 201 else response.text[:300],
        )

    def _record(self, outcome: Outcome) -> None:
        with self._lock:
            self.outcomes.append(outcome)

    def answered(self, since: float = 0.0, kind: str = "201") -> int:
        """How many requests sent after `since` got `kind`."""
        with self._lock:
            return sum(1 for o in self.outcomes if o.kind == kind and o.started >= since)

    def wait_for(self, count: int, since: float = 0.0, seconds: float = 120) -> None:
        """Until `count` requests sent after `since` were created (201)."""
        deadline = time.monotonic() + seconds
        while self.answered(since) < count:
            if time.monotonic() > deadline or self.exhausted:
                raise AssertionError(
                    f"the load got {self.answered(since)} of {count} 201s in time: {self.figures()}"
                )
            time.sleep(0.2)

    def snapshot(self) -> list[Outcome]:
        with self._lock:
            return list(self.outcomes)

    def figures(self) -> dict[str, int]:
        """Requests answered, by kind."""
        return dict(Counter(outcome.kind for outcome in self.snapshot()))
