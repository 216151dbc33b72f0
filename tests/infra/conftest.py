"""The Pulumi program run once under Pulumi's mock runtime (infra.mock_runtime,
the same run `python -m infra.render` does), shared by the tests here."""

from pathlib import Path

import pytest
import yaml

from infra import mock_runtime, render


@pytest.fixture(scope="session")
def dev_config() -> dict[str, str]:
    """The dev stack `make up` deploys: its tracked settings file, as the CLI passes it."""
    return mock_runtime.stack_config(render.DEV_STACK_FILE)


@pytest.fixture(scope="session")
def run(dev_config) -> mock_runtime.Run:
    return mock_runtime.run(dev_config)


@pytest.fixture(scope="session")
def objects(run) -> list[dict]:
    return run.kubernetes_objects()


@pytest.fixture(scope="session")
def rendered(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("rendered")
    render.render(directory)
    return directory


# A production stack as .github/scripts/production-stack.sh configures it, with
# placeholders for the environment's values: a remote cluster that pulls the images CI
# published, by digest, from a private registry, and an external database.
PRODUCTION_LIKE_CONFIG = {
    "items-audit:cluster": "remote",
    "items-audit:kube_context": "production",
    "items-audit:public_host": "items.example.com",
    "items-audit:image_registry": "ghcr.io/example/items-audit",
    "items-audit:registry_username": "deployer",
    "items-audit:registry_password": "placeholder-registry-token",
    "items-audit:items_image": "ghcr.io/example/items-audit/items-service@sha256:" + "1" * 64,
    "items-audit:audit_image": "ghcr.io/example/items-audit/audit-service@sha256:" + "2" * 64,
    "items-audit:database_url": (
        "postgresql://admin:placeholder@db.example.com:5432/items?sslmode=verify-full"
    ),
    "items-audit:database_cidrs": "10.0.12.0/24",
}


@pytest.fixture(scope="session")
def production_rendered(tmp_path_factory) -> Path:
    """The offline render of a production-like stack file (python -m infra.render
    --stack-file)."""
    stack_file = tmp_path_factory.mktemp("stack") / "Pulumi.production-like.yaml"
    stack_file.write_text(yaml.safe_dump({"config": PRODUCTION_LIKE_CONFIG}))
    directory = tmp_path_factory.mktemp("production-rendered")
    render.render(directory, stack_file)
    return directory
