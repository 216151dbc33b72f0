"""The benchmark through the cluster path (bench/cluster.py) compares like with like: its
bare Flask pods get what items-service's gunicorn container gets, and the one change it
makes to the deployed stack is the proxy's per-client rate limit, nothing else."""

import difflib
import shutil

import kubernetes_validate
import pytest
import yaml

from bench.cluster import PROXY_CONFIG, ceiling_manifests, lift_per_client_rate_limit
from infra import render
from tests.support.repository_files import REPOSITORY


@pytest.fixture(scope="module")
def items_deployment(tmp_path_factory) -> dict:
    """items-service's Deployment as the program renders it for the dev stack."""
    directory = tmp_path_factory.mktemp("rendered")
    manifests = [yaml.safe_load(path.read_text()) for path in render.render(directory)]
    (deployment,) = [
        m
        for m in manifests
        if m["kind"] == "Deployment" and m["metadata"]["name"] == "items-service"
    ]
    return deployment


def test_only_the_proxys_per_client_rate_limit_is_lifted(tmp_path):
    (tmp_path / PROXY_CONFIG).parent.mkdir()
    shutil.copy(REPOSITORY / PROXY_CONFIG, tmp_path / PROXY_CONFIG)
    lift_per_client_rate_limit(tmp_path)
    removed = [
        line
        for line in difflib.ndiff(
            (REPOSITORY / PROXY_CONFIG).read_text().splitlines(),
            (tmp_path / PROXY_CONFIG).read_text().splitlines(),
        )
        if line.startswith(("- ", "+ "))
    ]
    assert [line.split() for line in removed] == [
        ["-", "limit_req", "zone=rate_per_client", "burst=100", "nodelay;"]
    ]


def test_the_bare_flask_pods_get_the_replicas_resources_and_workers_of_items_service(
    items_deployment,
):
    manifests = ceiling_manifests(
        "127.0.0.1:5000/bench/ceiling@sha256:" + "0" * 64, items_deployment
    )
    (deployment,) = [m for m in manifests if m["kind"] == "Deployment"]
    (gunicorn,) = [
        c
        for c in items_deployment["spec"]["template"]["spec"]["containers"]
        if c["name"] == "items-service"
    ]
    (flask,) = deployment["spec"]["template"]["spec"]["containers"]
    assert deployment["spec"]["replicas"] == items_deployment["spec"]["replicas"] == 2
    for part in ("requests", "limits"):
        for resource in ("cpu", "memory"):
            assert flask["resources"][part][resource] == gunicorn["resources"][part][resource]
    assert {e["name"]: e["value"] for e in flask["env"]}["WEB_CONCURRENCY"] == next(
        e["value"] for e in gunicorn["env"] if e["name"] == "WEB_CONCURRENCY"
    )
    for manifest in manifests:
        kubernetes_validate.validate(manifest, "1.36", strict=True)
