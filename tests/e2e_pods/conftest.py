"""The real-node tier: only with `make e2e-pods` (scripts/e2e-pods), which builds the
tools and stand-in images and starts the one-node cluster first (e2e/node-up). Its pods
really run: a kubelet with containerd and runc, the CNI bridge, kube-proxy, kube-router
enforcing NetworkPolicies, CoreDNS and local-path-provisioner.

The stack is deployed exactly as `make e2e` deploys it (scripts/up and scripts/down in a
copy of the clone, the user's backend and default passphrase, the images built by the
Docker engine and pulled by digest from the run's registry), to the stack `e2e-pods`;
only the cluster underneath differs. The modules run in MODULE_ORDER: "from nothing" is
the first `make up`, the teardown is last, and each module between leaves the stack as
`make up` leaves it (the `deployed` fixture fails, naming the drift, when it is not)."""

from pathlib import Path

import pytest

from tests.e2e import conftest as e2e_tier
from tests.e2e.conftest import Tier
from tests.e2e.stack import CACHE, tools_bin
from tests.e2e_pods.node import Node

# The fixtures this tier shares with `make e2e`: the clone, its images in the run's
# registry, the user's backend, the stack and its first and later `make up`.
clone = e2e_tier.clone
registry = e2e_tier.registry
images = e2e_tier.images
user_backend = e2e_tier.user_backend
stack = e2e_tier.stack
first_up = e2e_tier.first_up
deployed = e2e_tier.deployed

KUBECONFIG = CACHE / "e2e-node" / "kubeconfig"
CONTEXT = "items-audit-pods"
MODULE_ORDER = (
    "test_pods_deploy.py",
    "test_pods_network_policies.py",
    "test_pods_monitoring.py",
    "test_pods_hardening.py",
    "test_pods_rolling_update.py",
    "test_pods_faults.py",
    "test_pods_password_rotation.py",
    "test_pods_teardown.py",
)


def pytest_collection_modifyitems(session, config, items):
    e2e_tier.in_module_order(items, __file__, MODULE_ORDER)


def pods_tier(command: str = "make e2e-pods") -> Tier:
    """The tier's stack on the real-node cluster; `command` is what runs it, for messages."""
    if not KUBECONFIG.exists():
        raise RuntimeError("the real-node cluster is not up: run e2e/node-up (make e2e-pods does)")
    return Tier(command=command, stack="e2e-pods", kubeconfig=KUBECONFIG, context=CONTEXT)


def pods_cluster_settings(images: dict[str, str]) -> dict[str, str]:
    """The settings `make e2e` gives its stack, less the simulated cluster's own
    StorageClass: this node provisions claims with kind's default class, `standard`."""
    return {
        "cluster": "docker-desktop",
        "kubeconfig": str(KUBECONFIG),
        "kube_context": CONTEXT,
        **images,
    }


@pytest.fixture(scope="session")
def tools() -> Path:
    return tools_bin(node=True)


@pytest.fixture(scope="session")
def tier() -> Tier:
    return pods_tier()


@pytest.fixture(scope="session")
def cluster_settings(images) -> dict[str, str]:
    return pods_cluster_settings(images)


@pytest.fixture(scope="session")
def node(stack) -> Node:
    return Node(stack)
