"""The GitHub Actions workflows: valid against the workflow schema (offline), every
third-party action pinned by commit, and everything they run present in the repository."""

import re
import shlex
import subprocess
import sys
from pathlib import Path
from unittest.mock import ANY

import pytest
import yaml

from tests.repository.node_tools import actions_expression_holds
from tests.repository.shell_commands import REPOSITORY, commands, missing_references

WORKFLOWS = sorted((REPOSITORY / ".github" / "workflows").glob("*.yml"))
CHECK_JSONSCHEMA = Path(sys.executable).with_name("check-jsonschema")
PINNED_ACTION = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")


def validate(*paths: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.github-workflows", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def steps(workflow: dict):
    for job_name, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            yield job_name, job, step


def test_the_ci_and_cd_workflows_exist():
    assert [path.name for path in WORKFLOWS] == ["cd.yml", "ci.yml"]


def test_workflows_validate_against_the_github_actions_schema():
    result = validate(*WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_rejects_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    # `runs_on` is a typo GitHub would reject; `steps` must be a list.
    broken.write_text("on: push\njobs:\n  build:\n    runs_on: ubuntu-24.04\n    steps: make\n")
    result = validate(broken)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "broken.yml" in result.stdout + result.stderr


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_every_action_is_pinned_by_full_commit_sha_with_its_release(path):
    uses = re.findall(r"^\s*(?:-\s+)?uses:\s*(.+?)\s*$", path.read_text(), re.MULTILINE)
    assert uses
    unpinned = [use for use in uses if not PINNED_ACTION.match(use)]
    assert not unpinned, f"pin by 40-hex commit SHA and name the release: {unpinned}"


def test_each_action_is_pinned_to_one_commit_everywhere():
    commits: dict[str, set[str]] = {}
    for path in WORKFLOWS:
        for action, sha in re.findall(r"uses:\s*([\w./-]+)@([0-9a-f]{40})", path.read_text()):
            commits.setdefault(action, set()).add(sha)
    assert {action: shas for action, shas in commits.items() if len(shas) > 1} == {}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_everything_the_workflows_run_exists_in_the_repository(path):
    problems = []
    for job_name, _, step in steps(load(path)):
        if "run" in step:
            problems += [
                f"{job_name}: {problem}"
                for command in commands(step["run"])
                for problem in missing_references(command)
            ]
    assert not problems, "\n".join(problems)


def test_ci_lints_runs_the_test_command_and_scans_both_images():
    ci = load(REPOSITORY / ".github" / "workflows" / "ci.yml")
    runs = {
        job: " ".join(step.get("run", "") for step in job_body["steps"])
        for job, job_body in ci["jobs"].items()
    }
    assert "ruff check" in runs["lint"] and "ruff format --check" in runs["lint"]
    assert "bash .ci/run" in runs["test"], "the same entry point as the project's own CI"
    assert ci["jobs"]["test"]["container"]["image"].startswith("debian:12")
    services = ci["jobs"]["images"]["strategy"]["matrix"]["service"]
    assert sorted(services) == ["audit-service", "items-service"]
    assert all((REPOSITORY / service / "Dockerfile").is_file() for service in services)
    scan = [step for step in ci["jobs"]["images"]["steps"] if "trivy" in step.get("uses", "")]
    assert scan and scan[0]["with"]["exit-code"] == "1", "a finding must fail the build"


def test_cd_previews_pull_requests_and_deploys_main_only_after_approval_and_end_to_end():
    cd = load(REPOSITORY / ".github" / "workflows" / "cd.yml")
    # PyYAML reads the `on` key as the boolean True.
    triggers = cd[True]
    assert "pull_request" in triggers
    assert triggers["workflow_run"] == {
        "workflows": ["CI"],
        "types": ["completed"],
        "branches": ["main"],
    }
    jobs = cd["jobs"]
    assert "pull_request" in jobs["preview"]["if"]
    assert any("pulumi preview" in step.get("run", "") for step in jobs["preview"]["steps"])

    deploy = jobs["deploy"]
    assert deploy["environment"]["name"] == "production", "required reviewers live there"
    assert deploy["needs"] == ["end-to-end", "plan"]
    assert "success" in deploy["if"]
    assert any("pulumi up" in step.get("run", "") for step in deploy["steps"])

    end_to_end = " ".join(step.get("run", "") for step in jobs["end-to-end"]["steps"])
    for command in ("make up", ".github/scripts/assignment-flow.sh", "make down"):
        assert command in end_to_end


def test_the_end_to_end_flow_is_the_assignments():
    flow = (REPOSITORY / ".github" / "scripts" / "assignment-flow.sh").read_text()
    assert '-d \'{"name": "Test Item", "description": "Testing"}\'' in flow
    assert "psql -U postgres -d itemsdb" in flow
    assert "SELECT * FROM audit_logs ORDER BY created_at DESC LIMIT 5;" in flow


@pytest.mark.parametrize(
    "script", sorted((REPOSITORY / ".github" / "scripts").glob("*.sh")), ids=lambda p: p.name
)
def test_workflow_scripts_parse(script):
    result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


CI = REPOSITORY / ".github" / "workflows" / "ci.yml"
CD = REPOSITORY / ".github" / "workflows" / "cd.yml"
DIGEST_PINNED = re.compile(r"^[a-z0-9][a-z0-9._/-]*(:[A-Za-z0-9._-]+)?@sha256:[0-9a-f]{64}$")
# The credentials that can change production, and the read-only ones previews get.
WRITE_SECRETS = {"KUBECONFIG", "PULUMI_ACCESS_TOKEN", "DATABASE_URL"}
PREVIEW_SECRETS = {"PREVIEW_KUBECONFIG", "PREVIEW_PULUMI_ACCESS_TOKEN", "PREVIEW_DATABASE_URL"}


def zizmor(*paths: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            str(Path(sys.executable).with_name("zizmor")),
            "--offline",
            "--persona",
            "auditor",
            "--no-progress",
            *map(str, paths),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def images(workflow: dict) -> list[str]:
    """Every container image a workflow runs: job containers and services, and the
    images handed to actions (setup-qemu's image, BuildKit's driver image, the SBOM
    generator)."""
    found = []
    for job in workflow["jobs"].values():
        for container in [job.get("container"), *(job.get("services") or {}).values()]:
            if container:
                found.append(container if isinstance(container, str) else container["image"])
        for step in job.get("steps", []):
            arguments = step.get("with") or {}
            if "image" in arguments:
                found.append(arguments["image"])
            for key, option in (("driver-opts", "image="), ("sbom", "generator=")):
                for part in str(arguments.get(key, "")).split(","):
                    if part.strip().startswith(option):
                        found.append(part.strip().removeprefix(option))
            if step.get("uses", "").startswith("docker://"):
                found.append(step["uses"].removeprefix("docker://"))
    return found


def secrets_of(job: dict) -> set[str]:
    return set(re.findall(r"secrets\.([A-Za-z0-9_]+)", yaml.safe_dump(job)))


def test_zizmor_finds_nothing_in_the_workflows():
    result = zizmor(*WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout + result.stderr


def test_zizmor_refuses_a_script_built_from_pull_request_text(tmp_path):
    unsafe = tmp_path / "unsafe.yml"
    unsafe.write_text(
        "on: pull_request_target\npermissions: {}\njobs:\n  greet:\n    runs-on: ubuntu-24.04\n"
        "    steps:\n      - run: echo ${{ github.event.pull_request.title }}\n"
    )
    result = zizmor(unsafe)
    assert result.returncode != 0
    assert "template-injection" in result.stdout


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_every_container_image_the_workflows_use_is_pinned_by_digest(path):
    used = images(load(path))
    assert [image for image in used if not DIGEST_PINNED.match(image)] == []


def test_the_workflows_images_are_all_found():
    assert len(images(load(CI))) == 4, "debian, binfmt, BuildKit, the SBOM generator"


def test_every_trivy_scan_fails_on_fixable_high_and_critical_findings():
    scans = [
        (job_name, step["with"])
        for job_name, _, step in steps(load(CI))
        if step.get("uses", "").startswith("aquasecurity/trivy-action@")
    ]
    assert [job_name for job_name, _ in scans] == ["images", "third-party-images", "publish"]
    for _, settings in scans:
        assert set(settings["severity"].split(",")) == {"HIGH", "CRITICAL"}
        # Unfixable findings are reported, not failed on: there is nothing to upgrade to.
        assert settings["ignore-unfixed"] is True
        assert settings["exit-code"] == "1"


def ci_run(event: str, head_repository: str, conclusion: str = "success") -> dict:
    """The `github` context of a CD run triggered by CI completing."""
    return {
        "github": {
            "event_name": "workflow_run",
            "repository": "acme/items-audit",
            "event": {
                "workflow_run": {
                    "conclusion": conclusion,
                    "event": event,
                    "head_branch": "main",
                    "head_repository": {"full_name": head_repository},
                }
            },
        }
    }


@pytest.mark.parametrize("job", ["end-to-end", "plan", "deploy"])
@pytest.mark.parametrize(
    ("context", "runs"),
    [
        (ci_run("push", "acme/items-audit"), True),
        # A fork's pull request from its branch `main` passes the trigger's branch filter.
        (ci_run("pull_request", "mallory/items-audit"), False),
        (ci_run("pull_request", "acme/items-audit"), False),
        (ci_run("push", "mallory/items-audit"), False),
        (ci_run("push", "acme/items-audit", conclusion="failure"), False),
    ],
    ids=["push-to-main", "fork-pr-from-main", "pr-from-main", "fork-push", "ci-failed"],
)
def test_cd_runs_main_jobs_only_for_a_passed_push_to_this_repository(job, context, runs):
    condition = load(CD)["jobs"][job]["if"]
    assert actions_expression_holds(condition, context) is runs


@pytest.mark.parametrize(("head", "runs"), [("acme/items-audit", True), ("mallory/fork", False)])
def test_previews_run_for_this_repositorys_pull_requests_only(head, runs):
    context = {
        "github": {
            "event_name": "pull_request",
            "repository": "acme/items-audit",
            "event": {"pull_request": {"head": {"repo": {"full_name": head}}}},
        }
    }
    assert actions_expression_holds(load(CD)["jobs"]["preview"]["if"], context) is runs


def test_pull_request_code_never_sees_a_write_credential():
    jobs = load(CD)["jobs"]
    preview = jobs["preview"]
    assert preview["environment"] == "production-preview"
    assert secrets_of(preview) == PREVIEW_SECRETS | {"GITHUB_TOKEN"}
    assert preview["permissions"] == {"contents": "read"}, "a read-only GITHUB_TOKEN"
    assert secrets_of(jobs["end-to-end"]) == set()

    for name in ("plan", "deploy"):
        assert jobs[name]["environment"] in ("production", {"name": "production", "url": ANY})
        assert secrets_of(jobs[name]) >= WRITE_SECRETS
        assert not secrets_of(jobs[name]) & PREVIEW_SECRETS
    # Only the jobs behind production's reviewers hold the write credentials.
    holders = {name for name, job in jobs.items() if secrets_of(job) & WRITE_SECRETS}
    assert holders == {"plan", "deploy"}


@pytest.mark.parametrize("command", ["pulumi preview", "pulumi up"])
def test_every_preview_and_update_runs_the_policy_pack(command):
    runs = [
        (job_name, job, step["run"])
        for job_name, job, step in steps(load(CD))
        if command in step.get("run", "")
    ]
    assert runs
    for job_name, job, run in runs:
        assert "--policy-pack policy" in run, job_name
        setup = " ".join(step.get("run", "") for step in job["steps"])
        assert "cd policy && python -m venv .venv-policy" in setup, job_name
        assert (
            ".venv-policy/bin/pip install --disable-pip-version-check -r requirements.txt" in setup
        )
    pack = yaml.safe_load((REPOSITORY / "policy" / "PulumiPolicy.yaml").read_text())
    assert pack["runtime"] == {"name": "python", "options": {"virtualenv": ".venv-policy"}}


def test_main_publishes_each_image_once_multi_arch_with_sbom_provenance_and_signature():
    ci = load(CI)
    publish = ci["jobs"]["publish"]
    assert publish["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"
    assert set(publish["needs"]) == {"lint", "test", "images", "third-party-images"}
    assert publish["permissions"] == {
        "contents": "read",
        "packages": "write",
        "id-token": "write",
    }
    assert publish["strategy"]["matrix"]["service"] == ["items-service", "audit-service"]
    by_action = {step.get("uses", "").split("@")[0]: step for step in publish["steps"]}
    build = by_action["docker/build-push-action"]["with"]
    assert build["platforms"] == "linux/amd64,linux/arm64"
    assert build["push"] is True
    assert build["provenance"] == "mode=max"
    assert build["sbom"].startswith("generator=")
    names = [step.get("name", step.get("uses", "")) for step in publish["steps"]]
    order = [
        next(i for i, name in enumerate(names) if fragment in name)
        for fragment in ("Build once", "Trivy scan of the pushed digest", "Sign the digest")
    ]
    assert order == sorted(order), "scanned before signed, built before both"
    sign = next(step for step in publish["steps"] if "Sign the digest" in step.get("name", ""))
    assert sign["env"]["DIGEST"] == "${{ steps.build.outputs.digest }}"
    assert 'cosign sign --yes "${IMAGE}@${DIGEST}"' in sign["run"]


def test_production_runs_the_digests_ci_signed_for_the_commit():
    deploy = load(CD)["jobs"]["deploy"]
    (up,) = [step for step in deploy["steps"] if "pulumi up" in step.get("run", "")]
    assert up["env"]["ITEMS_IMAGE"] == "${{ steps.images.outputs.items }}"
    assert up["env"]["AUDIT_IMAGE"] == "${{ steps.images.outputs.audit }}"
    (images_step,) = [step for step in deploy["steps"] if step.get("id") == "images"]
    assert images_step["env"]["COMMIT"] == "${{ github.event.workflow_run.head_sha }}"
    assert ".github/scripts/published-image.sh items-service" in images_step["run"]
    assert ".github/scripts/published-image.sh audit-service" in images_step["run"]
    resolver = (REPOSITORY / ".github" / "scripts" / "published-image.sh").read_text()
    assert (
        '--certificate-identity "https://github.com/${REPOSITORY}/.github/workflows/ci.yml@refs/heads/main"'
        in resolver
    )
    assert '--certificate-github-workflow-sha "${COMMIT}"' in resolver
    stack = (REPOSITORY / ".github" / "scripts" / "production-stack.sh").read_text()
    assert 'pulumi config set items_image "${ITEMS_IMAGE' in stack
    assert 'pulumi config set audit_image "${AUDIT_IMAGE' in stack


def pulumi_arguments(run: str, command: str) -> list[str]:
    """The words of the one `pulumi <command>` line of a step (continuation lines
    joined), up to the first pipe."""
    (line,) = [
        line
        for line in run.replace("\\\n", " ").splitlines()
        if line.strip().startswith(f"pulumi {command}")
    ]
    return shlex.split(line.split("|")[0])


def option(words: list[str], name: str) -> str:
    return words[words.index(name) + 1]


def test_the_reviewers_see_a_fresh_plan_and_the_deploy_applies_exactly_it():
    jobs = load(CD)["jobs"]
    plan, deploy = jobs["plan"], jobs["deploy"]
    assert plan["needs"] == "end-to-end", "planned after the end-to-end run, in the same run"
    # The same job-level environment (the state backend, say): the same stack.
    assert plan.get("env") == deploy.get("env")
    assert "plan" in deploy["needs"]

    (preview,) = [step for step in plan["steps"] if "pulumi preview" in step.get("run", "")]
    assert preview["shell"] == "bash", "bash -eo pipefail: a failed preview fails the step"
    words = pulumi_arguments(preview["run"], "preview")
    saved = option(words, "--save-plan")
    assert saved.startswith("${RUNNER_TEMP}/plan/")
    assert "GITHUB_STEP_SUMMARY" in preview["run"], "the approver reads the preview on the run"
    # The plan is computed with the deploy's own configuration: the same stack script,
    # the same digests, the same secrets.
    (up,) = [step for step in deploy["steps"] if "pulumi up" in step.get("run", "")]
    assert ".github/scripts/production-stack.sh" in preview["run"]
    assert {key: value for key, value in preview["env"].items() if key != "COMMIT"} == {
        key: value for key, value in up["env"].items() if key != "COMMIT"
    }

    (upload,) = [
        s for s in plan["steps"] if s.get("uses", "").startswith("actions/upload-artifact@")
    ]
    (download,) = [
        s for s in deploy["steps"] if s.get("uses", "").startswith("actions/download-artifact@")
    ]
    assert upload["with"]["name"] == download["with"]["name"]
    assert upload["with"]["if-no-files-found"] == "error"
    assert upload["with"]["path"].rstrip("/") == download["with"]["path"].rstrip("/")
    assert upload["with"]["path"] == "${{ runner.temp }}/plan/"
    order = [step.get("uses", step.get("run", "")) for step in deploy["steps"]]
    assert order.index(download["uses"]) < order.index(up["run"]), "the plan is there before up"

    applied = option(pulumi_arguments(up["run"], "up"), "--plan")
    assert applied == saved, "pulumi up is constrained to the plan the reviewers saw"
