"""The Prometheus the monitoring tests run is the release the cluster runs."""

import subprocess

import pytest

from tests.monitoring.prometheus_server import binary, image_version


@pytest.mark.parametrize("tool", ["prometheus", "promtool"])
def test_the_tests_prometheus_is_the_release_of_the_pinned_image(tool):
    result = subprocess.run([binary(tool), "--version"], capture_output=True, text=True, check=True)
    first_line = (result.stdout + result.stderr).splitlines()[0]
    assert first_line.startswith(f"{tool}, version {image_version()} "), first_line
