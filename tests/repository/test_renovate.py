"""renovate.json keeps every pin current: Renovate's own validator accepts it, and
Renovate's own dependency extraction, run offline on the working tree, finds every pin
the repository holds (action commits, image digests, requirements, annotated versions),
each exactly once."""

import json
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from tests.repository.node_tools import RENOVATE, RENOVATE_CONFIG_VALIDATOR, run_node
from tests.support.repository_files import REPOSITORY, repository_files

ACTION_PIN = re.compile(r"uses:\s*([\w.-]+/[\w./-]+)@([0-9a-f]{40}) # (v\S+)")
IMAGE_PIN = re.compile(
    r"([a-z0-9][a-z0-9._/-]*):([A-Za-z0-9][A-Za-z0-9._-]*)@(sha256:[0-9a-f]{64})"
)
# Every image digest, however the reference around it is written.
IMAGE_DIGEST = re.compile(r"@(sha256:[0-9a-f]{64})")
REQUIREMENT_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", re.MULTILINE)
ANNOTATION = re.compile(
    r"^\s*# renovate: .*\n\s*([A-Za-z_][A-Za-z0-9_]*)\s*[:=]\s*\"?([^\"\s]+)", re.MULTILINE
)
# A version written into a workflow, a setup script or the e2e tool set: KIND_VERSION: v1,
# version=1.2 (not `${{ env.X }}` references, not empty values).
VERSION_ASSIGNMENT = re.compile(
    r"^\s*([A-Za-z_]*(?:VERSION|version))\s*[:=]\s*\"?(v?\d[^\"\s]*)\"?\s*$", re.MULTILINE
)
VERSIONED_FILES = (".github/workflows/*.yml", "scripts/setup/*.sh", "e2e/versions.env")


def text(path: str) -> str:
    return (REPOSITORY / path).read_text(encoding="utf-8", errors="replace")


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> dict:
    """Renovate's `--platform=local --dry-run=extract` on a git repository holding the
    working tree as it is (the local platform lists files with git), offline."""
    work = tmp_path_factory.mktemp("renovate")
    copy = work / "repository"
    for path in repository_files():
        (copy / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPOSITORY / path, copy / path)
    subprocess.run(["git", "init", "--quiet"], cwd=copy, check=True)
    subprocess.run(["git", "add", "--all"], cwd=copy, check=True)
    result = run_node(
        RENOVATE,
        "--platform=local",
        "--dry-run=extract",
        cwd=copy,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(work),
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "info",
            "RENOVATE_BASE_DIR": str(work / "renovate-base"),
        },
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    for line in result.stdout.splitlines():
        record = json.loads(line)
        if record.get("msg") == "Extracted dependencies":
            return record["packageFiles"]
    raise AssertionError(f"no extraction in Renovate's log:\n{result.stdout[-4000:]}")


def deps(extracted: dict, manager: str | None = None):
    for name, package_files in extracted.items():
        if manager in (None, name):
            for package_file in package_files:
                for dep in package_file["deps"]:
                    yield package_file["packageFile"], dep


def test_renovate_validates_the_config():
    result = run_node(RENOVATE_CONFIG_VALIDATOR, "--strict", cwd=REPOSITORY, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Config validated successfully" in result.stdout


def test_the_validator_rejects_a_broken_custom_manager(tmp_path):
    (tmp_path / "renovate.json").write_text(
        json.dumps({"customManagers": [{"customType": "regex", "managerFilePatterns": ["/x/"]}]})
    )
    result = run_node(RENOVATE_CONFIG_VALIDATOR, "--strict", cwd=tmp_path, timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr


def test_every_action_commit_is_extracted_with_its_release(extracted):
    pinned = Counter(
        (path, *match)
        for path in repository_files()
        if path.startswith(".github/workflows/")
        for match in ACTION_PIN.findall(text(path))
    )
    found = Counter(
        (path, dep["depName"], dep.get("currentDigest"), dep.get("currentValue"))
        for path, dep in deps(extracted, "github-actions")
        if dep.get("depType") == "action"
    )
    assert pinned and found == pinned


def test_every_image_digest_is_extracted_by_exactly_one_manager(extracted):
    # Documentation and tests quote digests; everything else that holds one runs it.
    pinned = {
        (path, *match)
        for path in repository_files()
        if not path.startswith("tests/") and not path.endswith(".md")
        for match in IMAGE_PIN.findall(text(path))
    }
    managers: dict[tuple, set[str]] = {}
    for manager, package_files in extracted.items():
        for package_file in package_files:
            for dep in package_file["deps"]:
                if dep.get("datasource") == "docker" and dep.get("currentDigest"):
                    pin = (
                        package_file["packageFile"],
                        dep["depName"],
                        dep.get("currentValue"),
                        dep["currentDigest"],
                    )
                    managers.setdefault(pin, set()).add(manager)
    assert len(pinned) >= 7
    assert set(managers) == pinned
    assert {pin: found for pin, found in managers.items() if len(found) > 1} == {}


def test_renovate_extracts_every_image_digest_the_repository_holds(extracted):
    """A digest Renovate does not extract (a tag and digest in two string literals, a
    reference its patterns do not read) is never updated: every one is extracted.
    (Renovate reports a Dockerfile's ARG default again where FROM uses it: pins are
    compared per file and digest, not counted per occurrence.)"""
    digests = {
        (path, digest)
        for path in repository_files()
        if not path.startswith("tests/") and not path.endswith(".md")
        for digest in IMAGE_DIGEST.findall(text(path))
    }
    extracted_pins = {
        (path, dep["currentDigest"])
        for path, dep in deps(extracted)
        if dep.get("datasource") == "docker" and dep.get("currentDigest")
    }
    assert len(digests) >= 11
    assert extracted_pins == digests


def test_every_requirement_pin_is_extracted(extracted):
    pinned = Counter(
        (path, name.lower(), f"=={version}")
        for path in repository_files()
        if re.search(r"(^|/)requirements[\w.-]*\.txt$", path)
        for name, version in REQUIREMENT_PIN.findall(text(path))
    )
    found = Counter(
        (path, dep["depName"].lower(), dep.get("currentValue"))
        for path, dep in deps(extracted, "pip_requirements")
    )
    assert found == pinned


def test_every_written_version_is_annotated_and_extracted(extracted):
    versioned = sorted(
        {str(p.relative_to(REPOSITORY)) for g in VERSIONED_FILES for p in REPOSITORY.glob(g)}
        & set(repository_files())
    )
    written = Counter(
        (path, value) for path in versioned for _, value in VERSION_ASSIGNMENT.findall(text(path))
    )
    annotated = Counter(
        (path, value) for path in repository_files() for _, value in ANNOTATION.findall(text(path))
    )
    found = Counter(
        (path, dep.get("currentValue"))
        for path, dep in deps(extracted, "regex")
        if not dep.get("currentDigest")
    )
    assert written - annotated == Counter(), "versions without a `# renovate:` comment above"
    assert found == annotated


def test_the_pulumi_pins_move_as_one_group():
    config = json.loads(text("renovate.json"))
    (pulumi,) = [rule for rule in config["packageRules"] if rule.get("groupName") == "Pulumi"]
    patterns = pulumi["matchPackageNames"]
    for name in ("pulumi", "pulumi-kubernetes", "pulumi-policy", "pulumi/pulumi"):
        assert any(Path(name).match(pattern) for pattern in patterns), name
    assert "github.com/pulumi/**" in patterns, "the e2e tool set's Go modules"


def uv_outputs() -> dict[str, set[str]]:
    """Each file `uv pip compile` wrote, by the source file its header's command names."""
    sources: dict[str, set[str]] = {}
    for path in repository_files():
        header = text(path).splitlines()[:2] if path.endswith((".lock", ".txt")) else []
        if len(header) == 2 and header[1].startswith("#    uv pip compile "):
            directory = Path(path).parent
            for argument in header[1].split()[4:]:
                if not argument.startswith("-"):
                    sources.setdefault(str(directory / argument), set()).add(path)
    return sources


def test_every_lock_is_kept_by_the_pip_compile_manager_with_its_source(extracted):
    """Renovate reads each lock's header, so a pin moved in a requirements.in reruns the
    commands that made every file from it, and the locked versions are all seen."""
    found = {
        package_file["packageFile"]: set(package_file["lockFiles"])
        for package_file in extracted.get("pip-compile", [])
    }
    assert found == uv_outputs()
    assert set(found) >= {
        "items-service/requirements.in",
        "audit-service/requirements.in",
        "service-common/build-requirements.in",
    }
    for package_file in extracted["pip-compile"]:
        pinned = Counter(
            (name.lower(), f"=={version}")
            for name, version in REQUIREMENT_PIN.findall(text(package_file["packageFile"]))
        )
        direct = Counter(
            (dep["depName"].lower(), dep.get("currentValue"))
            for dep in package_file["deps"]
            if dep.get("depType") != "indirect"
        )
        assert direct == pinned, package_file["packageFile"]
        for lock in package_file["lockFiles"]:
            locked = {
                (name.lower(), version) for name, version in REQUIREMENT_PIN.findall(text(lock))
            }
            seen = {
                (dep["depName"].lower(), dep.get("lockedVersion")) for dep in package_file["deps"]
            }
            assert locked <= seen, lock
