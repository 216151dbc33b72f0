"""The stand-in images' contract tests: only with ITEMS_AUDIT_E2E_PODS set (the real-node
tier, after e2e/pods/images/build), never as part of `make test`: they need the
stand-ins built, and take about a minute. Each module gets the rendered manifests, its own
set of containers started from them, and the PostgreSQL stand-in running as its pod."""

import os

import pytest

from tests.standin_images.docker_pods import DockerPods, Manifests, rendered_objects

collect_ignore_glob = [] if os.environ.get("ITEMS_AUDIT_E2E_PODS") else ["test_*.py"]


@pytest.fixture(scope="module")
def manifests(tmp_path_factory) -> Manifests:
    return Manifests(rendered_objects(tmp_path_factory.mktemp("rendered")))


@pytest.fixture(scope="module")
def pods(manifests, tmp_path_factory):
    pods = DockerPods(manifests, tmp_path_factory.mktemp("volumes"))
    yield pods
    pods.close()


@pytest.fixture(scope="module")
def postgres(pods):
    container = pods.run("postgres", "postgres")
    container.wait_until("startupProbe")
    return container
