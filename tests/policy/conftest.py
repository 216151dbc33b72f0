"""The Pulumi program's dev stack under the mock runtime: every resource with the
inputs the engine would hand the policy pack."""

import pytest

from infra import mock_runtime


@pytest.fixture(scope="session")
def render() -> mock_runtime.Run:
    return mock_runtime.run()
