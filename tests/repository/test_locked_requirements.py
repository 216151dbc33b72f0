"""The services' Python packages are locked with hashes and installed only through the
lock: each service's requirements.in is the source, `uv pip compile` makes from it a
requirements.lock (every package from PyPI with its hashes, for the image) and a
requirements.txt (the same versions and the shared package, for `pip install -r
requirements.txt`), and the images install the lock with --require-hashes. Renovate's
side is tests/repository/test_renovate.py; the images' side, a build refused on a hash
that does not match, is tests/containers/test_locked_installs.py."""

import re
import shlex

import pytest

from tests.support.repository_files import REPOSITORY

SERVICES = ["items-service", "audit-service"]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", re.MULTILINE)
# One requirement of a lock: its pin and the continuation lines after it.
LOCK_ENTRY = re.compile(r"^(?=\S)(?!#)(.+?)(?=^(?=\S)|\Z)", re.MULTILINE | re.DOTALL)
# The Python the images run: the Dockerfiles' default base image.
BASE_PYTHON = re.compile(r"^ARG PYTHON_IMAGE=python:(\d+\.\d+)-", re.MULTILINE)


def pins(path) -> dict[str, str]:
    return {name.lower(): version for name, version in PIN.findall(path.read_text())}


def header_command(path) -> list[str]:
    second = path.read_text().splitlines()[1]
    assert second.startswith("#    uv pip compile "), f"{path}: not made by uv pip compile"
    return shlex.split(second.removeprefix("#    "))


LOCKS = [REPOSITORY / service / "requirements.lock" for service in SERVICES] + [
    REPOSITORY / "service-common" / "build-requirements.lock"
]


@pytest.mark.parametrize("service", SERVICES)
def test_requirements_txt_installs_exactly_the_locked_versions_and_the_shared_package(service):
    directory = REPOSITORY / service
    assert pins(directory / "requirements.txt") == pins(directory / "requirements.lock")
    lines = [line.strip() for line in (directory / "requirements.txt").read_text().splitlines()]
    assert "../service-common" in lines


@pytest.mark.parametrize("lock", LOCKS, ids=lambda path: str(path.relative_to(REPOSITORY)))
def test_every_package_of_a_lock_is_pinned_with_its_hashes(lock):
    entries = LOCK_ENTRY.findall(lock.read_text())
    assert entries
    for entry in entries:
        assert PIN.match(entry), f"{lock.name}: not pinned to one version: {entry.split()[0]}"
        assert re.search(r"--hash=sha256:[0-9a-f]{64}", entry), f"{lock.name}: {entry.split()[0]}"


@pytest.mark.parametrize("lock", LOCKS, ids=lambda path: str(path.relative_to(REPOSITORY)))
def test_each_lock_is_made_with_hashes_for_the_python_the_images_run(lock):
    command = header_command(lock)
    python = {BASE_PYTHON.search((REPOSITORY / s / "Dockerfile").read_text())[1] for s in SERVICES}
    assert "--generate-hashes" in command
    assert f"--output-file={lock.name}" in command
    assert {f"--python-version={version}" for version in python} <= set(command)
    source = lock.with_name(command[-1])
    assert source.suffix == ".in" and source.is_file()


@pytest.mark.parametrize("service", SERVICES)
def test_requirements_txt_is_made_from_the_same_source_as_the_lock(service):
    directory = REPOSITORY / service
    lock, plain = (
        header_command(directory / "requirements.lock"),
        header_command(directory / "requirements.txt"),
    )
    assert lock[-1] == plain[-1] == "requirements.in"
    # The shared package is a directory: left out of the lock, kept in requirements.txt.
    assert "--no-emit-package=service-common" in lock
    assert "../service-common" in (directory / "requirements.in").read_text().splitlines()


@pytest.mark.parametrize("service", SERVICES)
def test_the_image_installs_from_pypi_only_through_the_locks_with_require_hashes(service):
    dockerfile = (REPOSITORY / service / "Dockerfile").read_text().replace("\\\n", " ")
    installs = [
        command.strip()
        for line in dockerfile.splitlines()
        if line.startswith("RUN ")
        for command in line.removeprefix("RUN ").split("&&")
        if re.search(r"\bpip install\b", command)
    ]
    assert installs
    for install in installs:
        arguments = install.split()
        if "--require-hashes" in arguments:
            files = [arguments[i + 1] for i, a in enumerate(arguments) if a == "-r"]
            assert files and all(f.endswith(".lock") for f in files), install
        else:
            # The shared package only: no dependency fetched, no isolated build fetching
            # its backend.
            assert arguments[-1] == "../service-common", install
            assert {"--no-deps", "--no-build-isolation"} <= set(arguments), install
