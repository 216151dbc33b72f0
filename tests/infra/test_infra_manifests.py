"""The offline render: one YAML file per object, valid against the Kubernetes
API schemas in strict mode, and clean under two outside validators, checkov's Kubernetes
policies and kube-score, on the default render and on a production-like one (a remote
cluster pulling the images by digest, an external database)."""

import copy
import fnmatch
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from infra import pods
from infra.program import REPO_ROOT

# The oldest release the manifests need (preStop sleep, PVC retention policy)
# and the newest the validator knows.
KUBERNETES_VERSIONS = ["1.33", kubernetes_validate.latest_version()]
CHECKOV = REPO_ROOT / ".venv-checkov" / "bin" / "checkov"
KUBE_SCORE_SETUP = REPO_ROOT / "scripts" / "setup" / "55-kube-score.sh"
KUBE_SCORE_VERSION = re.search(r"^version=(\S+)$", KUBE_SCORE_SETUP.read_text(), re.M)[1]
KUBE_SCORE = (
    Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    / "items-audit"
    / "kube-score"
    / KUBE_SCORE_VERSION
    / "kube-score"
)
KUBE_SCORE_IGNORES = yaml.safe_load((REPO_ROOT / "infra" / "kube-score-ignore.yaml").read_text())
# The service images' skips where they are loaded into a local cluster without a registry.
LOCAL_IMAGE_SKIPPED = {
    (check, service)
    for service in ("items-service", "audit-service")
    for check in pods.LOCAL_IMAGE_SKIPS
}
ALWAYS_SKIPPED = {(check, name) for name, checks in pods.POLICY_SKIPS.items() for check in checks}


def _documents(directory: Path) -> list[dict]:
    return [yaml.safe_load(path.read_text()) for path in sorted(directory.glob("*.yaml"))]


def test_the_render_command_writes_one_file_per_object(objects, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "infra.render", str(tmp_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"wrote {len(objects)} Kubernetes objects to {tmp_path}"
    files = sorted(tmp_path.glob("*.yaml"))
    assert len(files) == len(objects)
    for path in files:
        documents = list(yaml.safe_load_all(path.read_text()))
        assert len(documents) == 1, path.name
        assert (
            path.name == f"{documents[0]['kind'].lower()}-{documents[0]['metadata']['name']}.yaml"
        )
    assert "kind: Deployment" in (tmp_path / "deployment-items-service.yaml").read_text()


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_rendered_object_is_valid_for_the_kubernetes_api_in_strict_mode(rendered, version):
    for document in _documents(rendered):
        kubernetes_validate.validate(document, version, strict=True)


def test_strict_validation_rejects_an_unknown_field(rendered):
    deployment = yaml.safe_load((rendered / "deployment-items-service.yaml").read_text())
    broken = copy.deepcopy(deployment)
    broken["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[-1], strict=True)


def _checkov(directory: Path) -> dict:
    """checkov's JSON report on the Kubernetes YAML in `directory`.

    checkov skips every file of a directory scan whose path has a component
    starting with "." and then reports no resource at all: the temporary directory
    may be such a path (the checkout's .cache/test-tmp in the test container), so
    hidden directories are scanned (the rendered directories have none of their own)."""
    assert CHECKOV.exists(), "checkov is installed by scripts/setup/50-checkov.sh"
    result = subprocess.run(
        [
            str(CHECKOV),
            "--directory",
            str(directory),
            "--framework",
            "kubernetes",
            "--skip-download",
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "CKV_IGNORE_HIDDEN_DIRECTORIES": "false"},
    )
    assert result.returncode in (0, 1), result.stderr
    report = json.loads(result.stdout)
    assert "results" in report, f"checkov scanned no resource in {directory}: {report}"
    return report


def _checkov_failed_and_skipped(directory: Path) -> tuple[list, set]:
    report = _checkov(directory)
    assert report["summary"]["passed"] > 100
    failed = [(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]]
    skipped = {
        (c["check_id"], c["resource"].split(".")[-1]) for c in report["results"]["skipped_checks"]
    }
    return failed, skipped


def test_checkov_finds_no_failed_check_and_skips_only_the_listed_ones(rendered):
    failed, skipped = _checkov_failed_and_skipped(rendered)
    assert failed == []
    assert skipped == ALWAYS_SKIPPED | LOCAL_IMAGE_SKIPPED


def test_checkov_skips_no_local_image_check_where_the_images_come_from_a_registry(
    production_rendered,
):
    """The service images are pulled by digest there: the digest and pull-policy checks
    pass, and a skip saying they were loaded without a registry would be false."""
    failed, skipped = _checkov_failed_and_skipped(production_rendered)
    assert failed == []
    assert skipped == ALWAYS_SKIPPED


def test_checkov_fails_a_weakened_manifest(rendered, tmp_path):
    deployment = yaml.safe_load((rendered / "deployment-audit-service.yaml").read_text())
    deployment["spec"]["template"]["spec"]["containers"][0]["securityContext"][
        "allowPrivilegeEscalation"
    ] = True
    (tmp_path / "deployment.yaml").write_text(yaml.safe_dump(deployment))
    failed = {c["check_id"] for c in _checkov(tmp_path)["results"]["failed_checks"]}
    assert "CKV_K8S_20" in failed


def _kube_score(directory: Path) -> set[tuple[str, str]]:
    """(check id, Kind/name) of every finding of kube-score's default checks that is
    not all OK."""
    assert KUBE_SCORE.exists(), "kube-score is installed by scripts/setup/55-kube-score.sh"
    result = subprocess.run(
        [
            str(KUBE_SCORE),
            "score",
            "--kubernetes-version",
            "v" + ".".join(KUBERNETES_VERSIONS[-1].split(".")[:2]),
            "--output-format",
            "json",
            *map(str, sorted(directory.glob("*.yaml"))),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    # It exits 1 when it has a critical finding, and when it cannot score at all.
    assert result.returncode in (0, 1) and result.stdout.startswith("["), result.stderr
    scored = json.loads(result.stdout)
    return {
        (
            check["check"]["id"],
            f"{scored_object['type_meta']['kind']}/{scored_object['object_meta']['name']}",
        )
        for scored_object in scored
        for check in scored_object["checks"]
        if not check["skipped"] and check["grade"] < 10
    }


def _listed(finding: tuple[str, str]) -> bool:
    check, kind_and_name = finding
    return any(
        entry["check"] == check and fnmatch.fnmatchcase(kind_and_name, pattern)
        for entry in KUBE_SCORE_IGNORES
        for pattern in entry["objects"]
    )


@pytest.fixture(scope="module")
def kube_score_findings(rendered, production_rendered) -> dict[str, set[tuple[str, str]]]:
    return {"default": _kube_score(rendered), "production-like": _kube_score(production_rendered)}


@pytest.mark.parametrize("render_name", ["default", "production-like"])
def test_kube_score_reports_nothing_but_the_listed_deviations(kube_score_findings, render_name):
    unlisted = {f for f in kube_score_findings[render_name] if not _listed(f)}
    assert unlisted == set(), "add a reason to infra/kube-score-ignore.yaml, or fix them"


def test_every_listed_kube_score_deviation_still_occurs_and_has_a_reason(kube_score_findings):
    found = kube_score_findings["default"] | kube_score_findings["production-like"]
    unneeded = [
        (entry["check"], pattern)
        for entry in KUBE_SCORE_IGNORES
        for pattern in entry["objects"]
        if not any(
            check == entry["check"] and fnmatch.fnmatchcase(kind_and_name, pattern)
            for check, kind_and_name in found
        )
    ]
    assert unneeded == [], "no render has these any more: remove them"
    assert all(len(entry["reason"]) > 40 for entry in KUBE_SCORE_IGNORES)


def test_kube_score_fails_a_weakened_manifest(rendered, tmp_path):
    deployment = yaml.safe_load((rendered / "deployment-audit-service.yaml").read_text())
    deployment["spec"]["template"]["spec"]["containers"][0]["securityContext"][
        "readOnlyRootFilesystem"
    ] = False
    (tmp_path / "deployment.yaml").write_text(yaml.safe_dump(deployment))
    unlisted = {f for f in _kube_score(tmp_path) if not _listed(f)}
    assert (
        "container-security-context-readonlyrootfilesystem",
        "Deployment/audit-service",
    ) in unlisted
