"""The end-to-end tier: only with `make e2e` (scripts/e2e), which builds the tool
set and starts the simulated cluster first. The stack is made once per run, in a
copy of the clone, with the services' images built by the Docker engine from the
Dockerfiles and pushed to a registry of the run's own, and deployed by `make up`."""

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests
import yaml

from tests.e2e.stack import CONTEXT, KUBECONFIG, E2EStack, copy_of_the_clone, tools_bin
from tests.support.network import free_port

# The Dockerfiles' base, as the container tier builds them (the official image
# cannot be pulled here): scripts/setup/35-base-image.sh.
BASE_IMAGE = "items-audit-test/debian-python:bookworm-1"


@pytest.fixture(scope="session")
def tools() -> Path:
    return tools_bin()


@pytest.fixture(scope="session")
def clone(tmp_path_factory) -> Path:
    return copy_of_the_clone(tmp_path_factory.mktemp("clone"))


@pytest.fixture(scope="session")
def registry(tools, tmp_path_factory):
    """An OCI registry on loopback (distribution, from the tool set): the images
    reach the cluster by digest, as CI's published ones do."""
    directory = tmp_path_factory.mktemp("registry")
    port = free_port()
    config = directory / "config.yml"
    config.write_text(
        "version: 0.1\n"
        f"storage:\n  filesystem:\n    rootdirectory: {directory / 'data'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
        "log:\n  level: warn\n"
    )
    process = subprocess.Popen(
        [str(tools / "registry"), "serve", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    address = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if requests.get(f"http://{address}/v2/", timeout=1).status_code == 200:
                break
        except requests.ConnectionError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError("the registry did not start")
        time.sleep(0.2)
    yield address
    process.terminate()
    process.wait(30)


def build_and_push(clone: Path, registry: str, service: str) -> str:
    """Build service's image from the clone, push it, and return its reference by digest."""
    tag = f"{registry}/{service}:e2e-{int(time.time() * 1000)}"
    for arguments in (
        [
            "build",
            "--network",
            "host",
            "--build-arg",
            f"PYTHON_IMAGE={BASE_IMAGE}",
            "--file",
            f"{service}/Dockerfile",
            "--tag",
            tag,
            ".",
        ],
        ["push", tag],
    ):
        result = subprocess.run(
            ["docker", *arguments],
            cwd=clone,
            capture_output=True,
            text=True,
            timeout=900,
            env={**os.environ, "DOCKER_BUILDKIT": "0"},
        )
        assert result.returncode == 0, result.stdout + result.stderr
    digest = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{index .RepoDigests 0}}", tag],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    subprocess.run(["docker", "image", "rm", tag], capture_output=True, check=False)
    return digest


@pytest.fixture(scope="session")
def stack(tools, clone, registry, tmp_path_factory) -> E2EStack:
    """The stack `e2e`, created and configured as a user would for a cluster of
    their own: the simulated cluster's kubeconfig and context, its storage class,
    images by digest (nothing to load into a node: it runs nothing)."""
    stack = E2EStack(clone=clone, backend=tmp_path_factory.mktemp("state"), bin=tools)
    stack.pulumi("stack", "init").check()
    settings = {
        "cluster": "docker-desktop",
        "kubeconfig": str(KUBECONFIG),
        "kube_context": CONTEXT,
        "storage_class": "kwok-volume",
        "items_image": build_and_push(clone, registry, "items-service"),
        "audit_image": build_and_push(clone, registry, "audit-service"),
    }
    for key, value in settings.items():
        stack.pulumi("config", "set", key, value).check()
    yield stack
    # Whatever a test left: nothing stays in the cluster or the state.
    stack.down()


@pytest.fixture(scope="session")
def first_up(stack):
    """`make up` from nothing; its output, for the tests that read it."""
    return stack.up().check()


@pytest.fixture
def deployed(stack, first_up):
    """The stack as `make up` leaves it, whatever an earlier test changed."""
    if stack.pulumi("preview", "--expect-no-changes").returncode != 0:
        stack.up().check()
    return stack


def rendered(clone: Path) -> list[dict]:
    """The offline render of the stack's own settings (python -m infra.render)."""
    directory = Path(tempfile.mkdtemp(prefix="e2e-render-"))
    try:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "infra.render",
                str(directory),
                "--stack-file",
                str(clone / "Pulumi.e2e.yaml"),
            ],
            cwd=clone,
            check=True,
            capture_output=True,
            timeout=300,
        )
        return [yaml.safe_load(path.read_text()) for path in sorted(directory.glob("*.yaml"))]
    finally:
        shutil.rmtree(directory)
