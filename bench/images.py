"""Figures for the two service images (a benchmark, not a test).

For each image: the size of the layers its Dockerfile adds on top of the base,
the total size, the build time with a warm cache after a one-line code change,
and the time from `docker run` to `/readyz` = 200 (median of several starts,
run as the Deployment runs it, against the host's PostgreSQL).

Needs what the test suite's setup installs (scripts/setup/*.sh: PostgreSQL,
the Docker engine, the stand-in base image). From the repository root:

    .venv/bin/python -m bench.images

Prints a table and writes bench/results/images.json.
"""

import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from tests.containers.docker_cli import (
    BASE_IMAGE,
    REPOSITORY,
    SERVICE_PORTS,
    build_image,
    docker,
    image_tag,
    require_engine,
)
from tests.containers.stack import ContainerStack
from tests.support.database import create_database, drop_database

STARTS = 5
RESULTS = REPOSITORY / "bench" / "results" / "images.json"


def image_size(image: str) -> int:
    return int(docker("image", "inspect", "--format", "{{.Size}}", image))


def timed_build(service: str, context: Path = REPOSITORY, tag: str | None = None) -> float:
    started = time.monotonic()
    build_image(service, context=context, tag=tag)
    return time.monotonic() - started


def rebuild_after_code_change(service: str) -> float:
    """Build time, warm cache, after appending one line to the service's app.py."""
    with tempfile.TemporaryDirectory(prefix="bench-context-") as directory:
        context = Path(directory)
        for name in (service, "service-common"):
            shutil.copytree(
                REPOSITORY / name, context / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        shutil.copy(REPOSITORY / ".dockerignore", context)
        with open(context / service / "app.py", "a") as app:
            app.write("# a one-line change\n")
        tag = f"items-audit-bench/{service}:code-change"
        try:
            return timed_build(service, context=context, tag=tag)
        finally:
            docker("image", "rm", "--force", tag, check=False)


def seconds_to_ready(stack: ContainerStack, service: str, attempt: int) -> float:
    """From `docker run` to the first 200 from /readyz on the published port."""
    port = SERVICE_PORTS[service]
    started = time.monotonic()
    if service == "items-service":
        container = stack.run_items(name=f"bench-items-{attempt}")
    else:
        # Published here only to time it; the tests check it is not published.
        container = stack.run(
            "audit-service", f"bench-audit-{attempt}", ["--publish", f"127.0.0.1::{port}"]
        )
    url = stack.published_url(container, port)
    stack.wait_until_ready(url, container)
    elapsed = time.monotonic() - started
    docker("rm", "--force", container)
    return elapsed


def measure() -> dict:
    require_engine()
    base_size = image_size(BASE_IMAGE)
    figures = {"base_image": BASE_IMAGE, "base_size_bytes": base_size, "images": {}}
    for service in SERVICE_PORTS:
        warm_rebuild_unchanged = timed_build(service)  # also makes sure the cache is warm
        size = image_size(image_tag(service))
        figures["images"][service] = {
            "added_bytes": size - base_size,
            "total_bytes": size,
            "rebuild_unchanged_seconds": round(warm_rebuild_unchanged, 2),
            "rebuild_after_code_change_seconds": round(rebuild_after_code_change(service), 2),
        }
    database = create_database("itemsdb_bench")
    stack = ContainerStack(database)
    try:
        for service in SERVICE_PORTS:
            starts = [seconds_to_ready(stack, service, attempt) for attempt in range(STARTS)]
            figures["images"][service]["run_to_ready_seconds"] = {
                "median": round(statistics.median(starts), 3),
                "all": [round(seconds, 3) for seconds in starts],
            }
    finally:
        stack.close()
        drop_database(database)
    return figures


def megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def main() -> None:
    figures = measure()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"base {figures['base_image']}: {megabytes(figures['base_size_bytes'])}")
    print(
        f"{'image':<15} {'added':>9} {'total':>9}"
        f" {'rebuild, code change':>21} {'run to /readyz (median)':>24}"
    )
    for service, image in figures["images"].items():
        print(
            f"{service:<15} {megabytes(image['added_bytes']):>9}"
            f" {megabytes(image['total_bytes']):>9}"
            f" {image['rebuild_after_code_change_seconds']:>20.2f}s"
            f" {image['run_to_ready_seconds']['median']:>23.3f}s"
        )
    print(f"written to {RESULTS.relative_to(REPOSITORY)}")


if __name__ == "__main__":
    main()
