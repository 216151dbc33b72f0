"""What the runs after the first rely on: a changed password reaches the roles and
the pods, the database is never deleted by a settings change, each wait for
readiness starts when there is something to wait for, and the PostgreSQL budget
fits every connection the services may open."""

import os
import subprocess

import pytest
import yaml

from infra import database, mock_runtime, pods, service
from infra.config import StackConfig
from infra.program import (
    AUDIT_CONNECTIONS_PER_WORKER,
    ITEMS_CONNECTIONS_PER_WORKER,
    REPO_ROOT,
)
from tests.infra.k8s_objects import find


@pytest.mark.parametrize("name", ["items-service", "audit-service"])
def test_a_service_rolls_when_its_secret_changes(objects, name):
    secret = find(objects, "Secret", name)["stringData"]
    annotations = find(objects, "Deployment", name)["spec"]["template"]["metadata"]["annotations"]
    checksum = annotations[pods.SECRET_CHECKSUM_ANNOTATION]
    assert checksum == pods.checksum(secret)
    assert pods.checksum({**secret, "database-url": secret["database-url"] + "x"}) != checksum


def test_grafana_rolls_when_its_admin_password_changes(objects):
    secret = find(objects, "Secret", "grafana-admin")["stringData"]
    annotations = find(objects, "Deployment", "grafana")["spec"]["template"]["metadata"][
        "annotations"
    ]
    assert annotations[pods.SECRET_CHECKSUM_ANNOTATION] == pods.checksum(secret)


def test_the_generated_credentials_keep_their_values_under_their_new_parent(run):
    """Without an alias, moving a RandomPassword under a component makes a new one:
    a new password nobody told PostgreSQL about."""
    passwords = {r.name: r for r in run.by_type("random:index/randomPassword:RandomPassword")}
    for name in ("items-service-db-password", "audit-service-db-password", "audit-token"):
        former = f"urn:pulumi:dev::items-audit::random:index/randomPassword:RandomPassword::{name}"
        assert former in passwords[name].former_urns, name


def test_the_database_is_protected_from_being_replaced_by_a_settings_change(run):
    statefulset = run.by_type("kubernetes:apps/v1:StatefulSet")[0]
    assert statefulset.protect is True


@pytest.mark.parametrize(
    "service_type, workload_type",
    [
        ("kubernetes:core/v1:Service", "kubernetes:apps/v1:Deployment"),
        ("kubernetes:core/v1:Service", "kubernetes:apps/v1:StatefulSet"),
    ],
)
def test_each_service_waits_for_its_workload_so_its_own_wait_starts_with_the_pods(
    run, service_type, workload_type
):
    workloads = {r.name: r for r in run.by_type(workload_type)}
    for item in run.by_type(service_type):
        if item.name in workloads:
            assert workloads[item.name].urn in item.dependencies, item.name


def test_postgres_allows_every_connection_the_services_may_open_during_a_rollout(objects):
    statefulset = find(objects, "StatefulSet", "postgres")["spec"]["template"]["spec"]
    container = statefulset["containers"][0]
    arguments = container["args"]
    assert arguments[:2] == ["postgres", "-c"]
    allowed = int(arguments[2].removeprefix("max_connections="))
    peak = 0
    for name, per_worker in (
        ("items-service", ITEMS_CONNECTIONS_PER_WORKER),
        ("audit-service", AUDIT_CONNECTIONS_PER_WORKER),
    ):
        deployment = find(objects, "Deployment", name)["spec"]
        env = {
            e["name"]: e["value"] for e in deployment["template"]["spec"]["containers"][0]["env"]
        }
        pods_at_most = deployment["replicas"] + deployment["strategy"]["rollingUpdate"]["maxSurge"]
        peak += pods_at_most * int(env["WEB_CONCURRENCY"]) * per_worker
    assert allowed >= peak + database.RESERVED_CONNECTIONS
    limit_mi = int(container["resources"]["limits"]["memory"].removesuffix("Mi"))
    assert limit_mi >= database.BASE_MEMORY_MI + allowed * database.BACKEND_MEMORY_MI


def test_more_replicas_raise_the_budget_with_them():
    run = mock_runtime.run({"items-audit:items_replicas": "6"})
    container = find(run.kubernetes_objects(), "StatefulSet", "postgres")["spec"]["template"][
        "spec"
    ]["containers"][0]
    allowed = int(container["args"][2].removeprefix("max_connections="))
    assert allowed >= service.peak_database_connections(6, ITEMS_CONNECTIONS_PER_WORKER)


def test_the_budget_counts_the_pools_the_services_really_open():
    from audit_service.factory import MAX_DB_CONNECTIONS as AUDIT_POOL
    from items_service.factory import MAX_DB_CONNECTIONS as ITEMS_POOL

    assert ITEMS_CONNECTIONS_PER_WORKER == ITEMS_POOL
    assert AUDIT_CONNECTIONS_PER_WORKER == AUDIT_POOL


def test_the_provider_reads_one_kubeconfig_file_even_from_a_kubeconfig_list(monkeypatch):
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join(["/home/a/.kube/one", "/home/a/.kube/two"]))
    assert StackConfig().kubeconfig_file == "/home/a/.kube/one"
    run = mock_runtime.run()
    [provider] = run.by_type("pulumi:providers:kubernetes")
    assert provider.inputs["kubeconfig"] == "/home/a/.kube/one"
    assert provider.inputs["context"] == "kind-items-audit"
    monkeypatch.delenv("KUBECONFIG")
    assert StackConfig().kubeconfig_file == os.path.expanduser("~/.kube/config")
    assert StackConfig(kubeconfig="~/k").kubeconfig_file == os.path.expanduser("~/k")


def test_a_secret_whose_values_change_is_updated_in_place_not_deleted_and_created_again(run):
    """pulumi-kubernetes replaces a Secret on any change of its data unless the provider
    enables mutable Secrets (tests/e2e/test_e2e_upgrade.py and test_e2e_changes.py see
    the uid kept on the real engine)."""
    [provider] = run.by_type("pulumi:providers:kubernetes")
    assert provider.inputs["enableSecretMutable"] in (True, "true")


def test_no_kubernetes_object_can_go_to_the_current_context_by_accident():
    project = yaml.safe_load((REPO_ROOT / "Pulumi.yaml").read_text())
    assert project["config"]["pulumi:disable-default-providers"]["value"] == ["kubernetes"]


def test_every_pulumi_command_in_the_repository_finds_the_local_state():
    project = yaml.safe_load((REPO_ROOT / "Pulumi.yaml").read_text())
    assert project["backend"]["url"] == "file://~/.pulumi-local"


def test_the_dev_stack_settings_are_tracked_and_every_other_stack_file_stays_out():
    """`make up` finds the dev stack's settings and its salt in the clone (a plain
    `pulumi up` too, so that the passphrase it asks for is the documented one); the
    settings files of a user's own stacks hold their own salts and stay theirs."""
    tracked = subprocess.run(
        ["git", "ls-files", "Pulumi.*.yaml"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    ignored = {
        name: subprocess.run(
            ["git", "check-ignore", "--quiet", name], cwd=REPO_ROOT, check=False
        ).returncode
        == 0
        for name in ("Pulumi.dev.yaml", "Pulumi.mine.yaml", "Pulumi.production.yaml")
    }
    assert tracked.stdout.splitlines() == ["Pulumi.dev.yaml"]
    assert ignored == {
        "Pulumi.dev.yaml": False,
        "Pulumi.mine.yaml": True,
        "Pulumi.production.yaml": True,
    }
