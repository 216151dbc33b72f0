"""The docker command line, and building the two service images."""

import os
import subprocess
from pathlib import Path

from tests.support.repository_files import REPOSITORY

# Made by scripts/setup/35-base-image.sh: the official python image cannot be
# pulled here, so the Dockerfiles are built on this Debian stand-in.
BASE_IMAGE = "items-audit-test/debian-python:bookworm-1"
SERVICE_PORTS = {"items-service": 8080, "audit-service": 8081}
# Label values the tests pass as build arguments, to see them reach the image.
IMAGE_VERSION = "0.0.0-test"
IMAGE_SOURCE = "https://example.com/items-audit"


class DockerError(RuntimeError):
    pass


def docker_result(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    # Debian's engine has no BuildKit plugin; say so, rather than have the client guess.
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, env=env
    )


def docker(*args: str, timeout: float = 120, check: bool = True) -> str:
    result = docker_result(*args, timeout=timeout)
    if check and result.returncode != 0:
        raise DockerError(
            f"docker {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        )
    return result.stdout.strip()


def container_logs(container: str, tail: str = "60") -> str:
    """The container's last `tail` lines (or "all") from stdout and stderr."""
    result = docker_result("logs", "--tail", tail, container)
    return result.stdout + result.stderr


def image_tag(service: str) -> str:
    return f"items-audit-test/{service}:latest"


def git_revision() -> str:
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPOSITORY, capture_output=True, text=True, check=True
    ).stdout.strip()


def build_image(service: str, context: Path = REPOSITORY, tag: str | None = None) -> str:
    """Build service's image from its Dockerfile on the stand-in base; returns the build log."""
    return docker(
        "build",
        # pip in the build stage reaches PyPI through the host's network.
        "--network",
        "host",
        "--build-arg",
        f"PYTHON_IMAGE={BASE_IMAGE}",
        "--build-arg",
        f"SOURCE={IMAGE_SOURCE}",
        "--build-arg",
        f"VERSION={IMAGE_VERSION}",
        "--build-arg",
        f"REVISION={git_revision()}",
        "--file",
        str(context / service / "Dockerfile"),
        "--tag",
        tag or image_tag(service),
        str(context),
        timeout=600,
    )


def require_engine() -> None:
    """A missing engine or base image fails the run: the container tier never skips."""
    try:
        docker("info", timeout=30)
    except (OSError, DockerError) as error:
        raise RuntimeError(
            f"no Docker engine (scripts/setup/30-docker.sh starts one): {error}"
        ) from error
    if not docker("image", "ls", "--quiet", BASE_IMAGE):
        raise RuntimeError(f"{BASE_IMAGE} is missing (scripts/setup/35-base-image.sh builds it)")
