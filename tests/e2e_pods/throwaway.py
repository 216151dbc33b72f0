"""Objects a real-node test makes for itself and removes again: a namespace, pods of the
tier's probe image (python3, psql; `probe wait` holds them until deleted), each as the
namespace's Pod Security level `restricted` admits it."""

import contextlib
import json

from tests.e2e.stack import E2EStack

PROBE_IMAGE = "docker.io/items-audit-e2e/probe:1"
PROBE_USER = 10001
# Every object a test of this tier makes carries it: what a failed run left is found by it.
MADE_BY = {"app.kubernetes.io/managed-by": "e2e-pods-tests"}


def restricted_pod_spec(containers: list[dict]) -> dict:
    """A pod spec `restricted` admits: non-root, seccomp RuntimeDefault, no privilege
    escalation, every capability dropped."""
    return {
        "automountServiceAccountToken": False,
        "restartPolicy": "Never",
        "terminationGracePeriodSeconds": 5,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": PROBE_USER,
            "runAsGroup": PROBE_USER,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [
            {
                **container,
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "capabilities": {"drop": ["ALL"]},
                    "readOnlyRootFilesystem": True,
                },
            }
            for container in containers
        ],
    }


def probe_pod(name: str, namespace: str, labels: dict | None = None) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {**MADE_BY, **(labels or {})}},
        "spec": restricted_pod_spec(
            [
                {
                    "name": "probe",
                    "image": PROBE_IMAGE,
                    "imagePullPolicy": "Never",
                    "resources": {
                        "requests": {"cpu": "10m", "memory": "32Mi"},
                        "limits": {"cpu": "500m", "memory": "128Mi"},
                    },
                }
            ]
        ),
    }


def apply(stack: E2EStack, manifest: dict) -> None:
    stack.kubectl("apply", "--filename=-", input_text=json.dumps(manifest)).check()


@contextlib.contextmanager
def namespace(stack: E2EStack, name: str):
    """A namespace of the test's own, enforcing `restricted` like the stack's; removed
    with everything in it."""
    apply(
        stack,
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": name,
                "labels": {**MADE_BY, "pod-security.kubernetes.io/enforce": "restricted"},
            },
        },
    )
    try:
        yield name
    finally:
        stack.kubectl(
            "delete", "namespace", name, "--ignore-not-found", "--wait", "--timeout=120s"
        ).check()


@contextlib.contextmanager
def pods(stack: E2EStack, manifests: list[dict], ready_within: int = 90):
    """The pods, created and Ready (their JSON as the API server has them then); deleted
    and gone afterwards."""
    try:
        for manifest in manifests:
            apply(stack, manifest)
        for manifest in manifests:
            stack.kubectl(
                "wait",
                "--namespace",
                manifest["metadata"]["namespace"],
                "--for=condition=Ready",
                f"pod/{manifest['metadata']['name']}",
                f"--timeout={ready_within}s",
                timeout=ready_within + 30,
            ).check()
        yield [
            stack.kubectl_json(
                "get", "pod", "--namespace", m["metadata"]["namespace"], m["metadata"]["name"]
            )
            for m in manifests
        ]
    finally:
        for manifest in manifests:
            stack.kubectl(
                "delete",
                "pod",
                "--namespace",
                manifest["metadata"]["namespace"],
                manifest["metadata"]["name"],
                "--ignore-not-found",
                "--wait",
                "--timeout=60s",
            ).check()
