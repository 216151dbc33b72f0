"""The end-to-end tier: only with `make e2e` (scripts/e2e), which builds the tool
set and starts the simulated cluster first. One stack, `e2e`, in the user's own
backend (Pulumi.yaml's ~/.pulumi-local), made by the first `make up` of the run in a
copy of the clone and removed at the end (`make down`, then `pulumi stack rm`). The
services' images are built by the Docker engine from the Dockerfiles, pushed to a
registry of the run's own and deployed by digest.

The modules run in a declared order (MODULE_ORDER), whatever order they are given
in: "from nothing" is the first `make up`; the modules after it find the stack as
`make up` leaves it (the `deployed` fixture fails, naming the drift, when it is
not) and leave it so, or say in their docstring that they start from nothing
themselves; the teardown is last."""

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import yaml

from tests.e2e.stack import (
    CACHE,
    CONTEXT,
    KUBECONFIG,
    REPOSITORY,
    STACK,
    E2EStack,
    backend_directory,
    copy_of_the_clone,
    tools_bin,
    write_stack_settings,
)
from tests.support.network import free_port

# The Dockerfiles' base, as the container tier builds them (the official image
# cannot be pulled here): scripts/setup/35-base-image.sh.
BASE_IMAGE = "items-audit-test/debian-python:bookworm-1"


@dataclass(frozen=True)
class Tier:
    """What a tier deploys to: its stack in the user's backend, the command that runs it
    (named in its messages), and its cluster."""

    command: str
    stack: str
    kubeconfig: Path
    context: str

    @property
    def owner_marker(self) -> Path:
        """Written before the tier's first `make up` creates its stack in the user's
        backend, removed once the stack is: a stack of that name found there without it
        is not the tier's."""
        return CACHE / f"{self.stack}-stack-in-user-backend"


MODULE_ORDER = (
    "test_e2e_language_host.py",
    "test_e2e_deploy.py",
    "test_e2e_state_directory.py",
    "test_e2e_changes.py",
    "test_e2e_secrets.py",
    "test_e2e_failures.py",
    "test_e2e_interrupted.py",
    "test_e2e_upgrade.py",
    "test_e2e_recreated_cluster.py",
    "test_e2e_teardown.py",
)


def in_module_order(items, conftest: str, order: tuple[str, ...]) -> None:
    """Sorts a tier's collected tests by its declared module order (the tier's directory
    is the conftest's); a module the order does not name stops the run."""
    here = Path(conftest).parent
    undeclared = sorted({item.path.name for item in items if item.path.parent == here} - set(order))
    if undeclared:
        raise pytest.UsageError(
            f"{here.relative_to(REPOSITORY)}/conftest.py: declare the place of"
            f" {', '.join(undeclared)} in MODULE_ORDER"
        )
    position = {name: index for index, name in enumerate(order)}
    items.sort(
        key=lambda item: position.get(item.path.name, -1) if item.path.parent == here else -1
    )


def pytest_collection_modifyitems(session, config, items):
    in_module_order(items, __file__, MODULE_ORDER)


@pytest.fixture(scope="session")
def tier() -> Tier:
    return Tier(command="make e2e", stack=STACK, kubeconfig=KUBECONFIG, context=CONTEXT)


@pytest.fixture(scope="session")
def tools() -> Path:
    return tools_bin()


@pytest.fixture(scope="session")
def clone(tmp_path_factory) -> Path:
    return copy_of_the_clone(tmp_path_factory.mktemp("clone"))


@contextlib.contextmanager
def running_registry(tools: Path, directory: Path):
    """An OCI registry on loopback (distribution, from the tool set), its data in
    `directory`, for as long as the block runs; yields its address."""
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
    try:
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
    finally:
        process.terminate()
        process.wait(30)


@pytest.fixture(scope="session")
def registry(tools, tmp_path_factory):
    """The run's registry: the images reach the cluster by digest, as CI's published
    ones do."""
    with running_registry(tools, tmp_path_factory.mktemp("registry")) as address:
        yield address


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
def images(clone, registry) -> dict[str, str]:
    """Both services' images, built from the clone, by digest."""
    return {
        "items_image": build_and_push(clone, registry, "items-service"),
        "audit_image": build_and_push(clone, registry, "audit-service"),
    }


@pytest.fixture(scope="session")
def cluster_settings(images) -> dict[str, str]:
    """The settings only this tier needs; a laptop on kind needs none of them. The
    simulated cluster is not a kind cluster `make up` creates: `cluster` is
    docker-desktop's path (deploy to an existing cluster), which reaches it through
    the kubeconfig and context named here (scripts/up's checks and the program's
    provider both read them). KWOK provisions volumes of its own StorageClass only.
    The images are prebuilt, by digest: the docker provider that builds them on the
    user's path is not in the tool set (e2e/README.md)."""
    return {
        "cluster": "docker-desktop",
        "kubeconfig": str(KUBECONFIG),
        "kube_context": CONTEXT,
        "storage_class": "kwok-volume",
        **images,
    }


@dataclass
class UserBackend:
    directory: Path  # Pulumi.yaml's backend, as the CLI resolves it
    existed_before: bool  # before this run's first `make up`


def stacks_in(stack: E2EStack, *flags: str) -> list[str]:
    """The stacks the user's backend holds (the project's; all of them with --all)."""
    listed = stack.run("pulumi", "stack", "ls", "--json", *flags).check()
    return [entry["name"].rsplit("/", 1)[-1] for entry in json.loads(listed.stdout)]


@pytest.fixture(scope="session")
def user_backend() -> UserBackend:
    directory = backend_directory()
    return UserBackend(directory, directory.is_dir())


class StackNotOurs(Exception):
    """The user's backend holds a stack of the tier's name that the tier did not make."""


@contextlib.contextmanager
def tier_stack(
    tier: Tier,
    tools: Path,
    clone: Path,
    user_backend: UserBackend,
    home: Path,
    settings: Callable[[], dict[str, str]],
):
    """The tier's stack in the user's backend, not created yet: its settings file is
    written (`settings()`, called only once the checks pass), and the first `make up`
    creates it. Raises StackNotOurs, before anything is built, when the user has a stack
    of that name this tier did not make; removes one an earlier run left (its cluster
    went with that run). At the end, whatever the block left: nothing stays in the
    cluster and the stack goes."""
    stack = E2EStack(
        clone=clone,
        home=home,
        bin=tools,
        name=tier.stack,
        kubeconfig=tier.kubeconfig,
        context=tier.context,
    )
    marker = tier.owner_marker
    if user_backend.directory.is_dir() and tier.stack in stacks_in(stack):
        if not marker.exists():
            raise StackNotOurs(
                f"{tier.command}: the Pulumi backend {user_backend.directory} already holds a"
                f" stack '{tier.stack}' that {tier.command} did not create. {tier.command}"
                " deploys to that stack and removes it at the end; rename yours (pulumi stack"
                f" rename) or remove it (pulumi stack rm {tier.stack}) first. Nothing was"
                " changed."
            )
        stack.run(
            "pulumi", "stack", "rm", "--yes", "--force", "--remove-backups", tier.stack
        ).check()
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(f"{user_backend.directory}\n")
    write_stack_settings(clone, settings(), tier.stack)
    try:
        yield stack
    finally:
        # Nothing stays in the cluster, the stack goes, and a state directory this run
        # created goes too when it holds no other stack.
        stack.down().check()
        if tier.stack in stacks_in(stack):
            stack.run("pulumi", "stack", "rm", "--yes", "--remove-backups", tier.stack).check()
        marker.unlink()
        if not user_backend.existed_before and not stacks_in(stack, "--all"):
            shutil.rmtree(user_backend.directory)


@pytest.fixture(scope="session")
def stack(request, tier, tools, clone, user_backend, tmp_path_factory) -> E2EStack:
    """The tier's stack (tier_stack), from the first `make up` to the end of the session."""
    try:
        with tier_stack(
            tier,
            tools,
            clone,
            user_backend,
            tmp_path_factory.mktemp("home"),
            lambda: request.getfixturevalue("cluster_settings"),
        ) as stack:
            yield stack
    except StackNotOurs as refusal:
        pytest.exit(str(refusal), returncode=3)


@pytest.fixture(scope="session")
def first_up(stack):
    """`make up` from nothing; its output, for the tests that read it."""
    return stack.up().check()


@pytest.fixture
def deployed(stack, first_up):
    """The stack as `make up` leaves it: no drift between the state, the program and
    the cluster, and every pod ready. A test that finds otherwise fails here: the test
    before it (or a change to the program) left it so."""
    drift = stack.drift()
    if drift.returncode != 0:
        pytest.fail(
            "the stack is not as make up leaves it (pulumi preview --refresh"
            f" --expect-no-changes):\n{drift.output[-6000:]}",
            pytrace=False,
        )
    problems = stack.health()
    if problems:
        pytest.fail(f"the cluster is not healthy: {problems}", pytrace=False)
    return stack


def wait_until_healthy(stack: E2EStack, seconds: float = 120) -> None:
    """For a test that stopped or broke a component: the cluster is healthy again
    (node Ready, every pod Ready, every workload at its replicas) within `seconds`."""
    deadline = time.monotonic() + seconds
    while problems := stack.health():
        if time.monotonic() > deadline:
            raise AssertionError(f"the cluster did not become healthy again: {problems}")
        time.sleep(2)


def rendered(clone: Path, stack_file: Path | None = None) -> list[dict]:
    """The offline render of the stack's own settings (python -m infra.render)."""
    directory = Path(tempfile.mkdtemp(prefix="e2e-render-"))
    try:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "infra.render",
                str(directory),
                "--stack-file",
                str(stack_file or clone / f"Pulumi.{STACK}.yaml"),
            ],
            cwd=clone,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return [yaml.safe_load(path.read_text()) for path in sorted(directory.glob("*.yaml"))]
    finally:
        shutil.rmtree(directory)


@contextlib.contextmanager
def settings_changed(stack: E2EStack, **changes: str):
    """Plain settings changed with `pulumi config set`, put back as they were afterwards
    (`config rm` for those that were not set); the next `make up` restores the cluster."""
    before = {}
    for key in changes:
        got = stack.pulumi("config", "get", key)
        before[key] = got.stdout.strip() if got.returncode == 0 else None
    try:
        for key, value in changes.items():
            stack.pulumi("config", "set", key, value).check()
        yield
    finally:
        for key, value in before.items():
            if value is None:
                stack.pulumi("config", "rm", key).check()
            else:
                stack.pulumi("config", "set", key, value).check()
