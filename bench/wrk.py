"""Running wrk (Debian's HTTP load generator) with a Lua scenario and reading
the JSON line its done() hook prints (lua/report.lua)."""

import json
import subprocess
import tempfile
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

LUA = Path(__file__).with_name("lua")
PREFIX = "WRK_JSON "
CLIENT_TIMEOUT = "10s"


@dataclass(frozen=True)
class LoadResult:
    scenario: str
    run_id: str  # the prefix of its requests' X-Request-ID
    connections: int
    seconds: float
    requests: int
    requests_per_second: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    errors: dict  # wrk's counts: connect, read, write, status (non-2xx/3xx), timeout

    def as_dict(self) -> dict:
        return asdict(self)


def script(scenario: str, values: dict[str, int | str]) -> str:
    """The scenario's Lua with the request ids' prelude and the report hook,
    placeholders filled in."""
    text = "\n".join(
        (LUA / f"{name}.lua").read_text() for name in ("request_ids", scenario, "report")
    )
    for name, value in values.items():
        text = text.replace(name, str(value))
    return text


def run(
    base_url: str,
    scenario: str,
    connections: int,
    seconds: int,
    values: dict[str, int] | None = None,
) -> LoadResult:
    threads = min(2, connections)
    run_id = f"bench-{uuid.uuid4().hex[:12]}"
    with tempfile.NamedTemporaryFile("w", suffix=".lua", prefix=f"{scenario}-") as lua:
        lua.write(script(scenario, {"RUN_ID": run_id, **(values or {})}))
        lua.flush()
        finished = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{seconds}s",
                f"--timeout={CLIENT_TIMEOUT}",
                "-s",
                lua.name,
                base_url,
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=True,
        )
    line = next((row for row in finished.stdout.splitlines() if row.startswith(PREFIX)), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{finished.stdout}\n{finished.stderr}")
    figures = json.loads(line[len(PREFIX) :])
    duration = figures["duration_us"] / 1e6
    latency = figures["latency_us"]
    return LoadResult(
        scenario=scenario,
        run_id=run_id,
        connections=connections,
        seconds=round(duration, 2),
        requests=figures["requests"],
        requests_per_second=round(figures["requests"] / duration, 1),
        p50_ms=latency["p50"] / 1000,
        p95_ms=latency["p95"] / 1000,
        p99_ms=latency["p99"] / 1000,
        max_ms=latency["max"] / 1000,
        errors=figures["errors"],
    )
