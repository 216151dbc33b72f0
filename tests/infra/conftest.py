"""The Pulumi program run once under Pulumi's mock runtime (infra.mock_runtime,
the same run `python -m infra.render` does), shared by the tests here."""

from pathlib import Path

import pytest

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
