"""Image tags follow the build context: a code change rolls the Deployment,
an unchanged tree does nothing."""

import shutil

import pytest

from infra.images import content_tag
from infra.program import REPO_ROOT


@pytest.fixture
def tree(tmp_path):
    for part in ("items-service", "audit-service", "service-common"):
        shutil.copytree(
            REPO_ROOT / part,
            tmp_path / part,
            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
        )
    shutil.copy(REPO_ROOT / ".dockerignore", tmp_path / ".dockerignore")
    return tmp_path


def test_the_tag_is_stable_for_an_unchanged_tree(tree):
    assert content_tag(tree, "items-service", {}) == content_tag(REPO_ROOT, "items-service", {})


@pytest.mark.parametrize(
    "changed",
    [
        "items-service/app.py",
        "items-service/Dockerfile",
        "service-common/pyproject.toml",
        ".dockerignore",
    ],
)
def test_a_change_to_what_goes_into_the_image_changes_its_tag(tree, changed):
    before = content_tag(tree, "items-service", {})
    with open(tree / changed, "a") as file:
        file.write("\n# changed\n")
    assert content_tag(tree, "items-service", {}) != before


def test_the_other_service_and_bytecode_do_not_change_the_tag(tree):
    before = content_tag(tree, "items-service", {})
    with open(tree / "audit-service" / "app.py", "a") as file:
        file.write("\n# changed\n")
    (tree / "items-service" / "__pycache__").mkdir(exist_ok=True)
    (tree / "items-service" / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\0")
    assert content_tag(tree, "items-service", {}) == before


def test_a_different_base_image_changes_the_tag(tree):
    assert content_tag(tree, "items-service", {}) != content_tag(
        tree, "items-service", {"PYTHON_IMAGE": "debian-python:12"}
    )
