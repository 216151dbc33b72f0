"""The pods the Pulumi program deploys, as Prometheus's pod discovery would find them:
the dev stack rendered once under Pulumi's mock runtime (infra.mock_runtime)."""

import pytest

from infra import mock_runtime
from tests.infra.k8s_objects import pod_templates as workload_pod_templates


@pytest.fixture(scope="session")
def pod_templates() -> dict[str, dict]:
    """Every workload's rendered pod template, by "Kind/name" (e.g. "Deployment/items-service")."""
    return workload_pod_templates(mock_runtime.run().kubernetes_objects())
