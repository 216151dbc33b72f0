"""The images install nothing from PyPI without checking it against a hash in the
repository: a lock whose hash does not match what PyPI serves stops the build, whether
it is one of the service's packages (its requirements.lock) or the build backend of the
shared package (service-common/build-requirements.lock), which an isolated build would
otherwise fetch unchecked. Built for real on the stand-in base, each in a copy of the
build context with one lock altered; the images the other tests run come from the
unaltered locks."""

import re
import shutil
import uuid

import pytest

from tests.containers.docker_cli import (
    BASE_IMAGE,
    REPOSITORY,
    docker,
    docker_result,
    require_engine,
)

MISMATCH = "THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE"


def altered_context(tmp_path, lock: str, package: str):
    """The build context of items-service with every hash of `package` in `lock`
    replaced by the hash of other content."""
    context = tmp_path / "context"
    for name in ("items-service", "service-common"):
        shutil.copytree(
            REPOSITORY / name, context / name, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(REPOSITORY / ".dockerignore", context)
    path = context / lock
    text = path.read_text()
    entry = re.search(
        rf"^{re.escape(package)}==\S+(?: \\\n\s+--hash=sha256:[0-9a-f]{{64}})+", text, re.MULTILINE
    )
    assert entry, f"{package} is not locked with hashes in {lock}"
    altered = re.sub(r"sha256:[0-9a-f]{64}", "sha256:" + "0" * 64, entry.group(0))
    path.write_text(text.replace(entry.group(0), altered))
    return context


@pytest.mark.parametrize(
    ("lock", "package"),
    [
        ("items-service/requirements.lock", "flask"),
        ("service-common/build-requirements.lock", "setuptools"),
    ],
    ids=["a service dependency", "the shared package's build backend"],
)
def test_a_package_that_does_not_match_its_locked_hash_stops_the_build(tmp_path, lock, package):
    require_engine()
    context = altered_context(tmp_path, lock, package)
    tag = f"items-audit-test/items-service:altered-lock-{uuid.uuid4().hex[:8]}"

    result = docker_result(
        "build",
        "--network",
        "host",
        "--force-rm",
        "--build-arg",
        f"PYTHON_IMAGE={BASE_IMAGE}",
        "--file",
        str(context / "items-service" / "Dockerfile"),
        "--tag",
        tag,
        str(context),
        timeout=600,
    )
    docker("image", "rm", "--force", tag, check=False)

    assert result.returncode != 0, "the image was built from a lock PyPI's files do not match"
    output = result.stdout + result.stderr
    assert MISMATCH in output
    assert re.search(
        rf"{package}==\S+ from https://files\.pythonhosted\.org/", output, re.IGNORECASE
    )
