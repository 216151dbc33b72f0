"""The offline render: one YAML file per object, valid against the Kubernetes
API schemas in strict mode, and clean under checkov's Kubernetes policies."""

import copy
import json
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
    )
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)


def test_checkov_finds_no_failed_check_and_skips_only_the_listed_ones(rendered):
    report = _checkov(rendered)
    failed = [(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]]
    assert failed == []
    assert report["summary"]["passed"] > 100
    skipped = {
        (c["check_id"], c["resource"].split(".")[-1]) for c in report["results"]["skipped_checks"]
    }
    listed = {(check, name) for name, checks in pods.POLICY_SKIPS.items() for check in checks}
    assert skipped == listed


def test_checkov_fails_a_weakened_manifest(rendered, tmp_path):
    deployment = yaml.safe_load((rendered / "deployment-audit-service.yaml").read_text())
    deployment["spec"]["template"]["spec"]["containers"][0]["securityContext"][
        "allowPrivilegeEscalation"
    ] = True
    (tmp_path / "deployment.yaml").write_text(yaml.safe_dump(deployment))
    failed = {c["check_id"] for c in _checkov(tmp_path)["results"]["failed_checks"]}
    assert "CKV_K8S_20" in failed
