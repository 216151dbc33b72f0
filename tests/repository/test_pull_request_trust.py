"""The pull-request trust boundary, written in the workflows and checked here rather than
left to repository settings: every job a pull request can start, directly
(`pull_request`, `pull_request_target`) or through a workflow its CI run completes
(`workflow_run` of a pull request's run, a fork's included), uses no secret but the
PREVIEW_* ones and GITHUB_TOKEN, and runs in no environment but `production-preview`.

Whether a pull request can start a job is decided as GitHub decides it: the job's `if:`
evaluated by GitHub's own expression evaluator (tests/repository/node_tools.py) for a
pull request from a branch of this repository and for one from a fork. WRITEUP §2.1
lists the environment protections the repository must have on top of this."""

import copy
import re
from pathlib import Path

import yaml

from tests.repository.node_tools import actions_expression_holds
from tests.support.repository_files import REPOSITORY

WORKFLOWS = REPOSITORY / ".github" / "workflows"
THIS_REPOSITORY = "acme/items-audit"
FORK = "mallory/items-audit"
# Secrets a pull request's code may see (WRITEUP §2.1), and the one environment it may use.
ALLOWED_SECRET = re.compile(r"PREVIEW_[A-Z0-9_]+|GITHUB_TOKEN")
PULL_REQUEST_ENVIRONMENTS = {"production-preview"}
EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
NAMED_SECRET = re.compile(r"\bsecrets\.([A-Za-z0-9_-]+)")
# The secrets context read whole or by a computed name: toJSON(secrets), secrets[...].
WHOLE_SECRETS = re.compile(r"\bsecrets\b(?!\.[A-Za-z0-9_-])")


def pull_request_contexts(event: str) -> list[dict]:
    """The `github` context of a run a pull request starts, from this repository and
    from a fork, for a workflow triggered by `event`."""
    contexts = []
    for head in (THIS_REPOSITORY, FORK):
        if event in ("pull_request", "pull_request_target"):
            payload = {
                "action": "synchronize",
                "pull_request": {
                    "number": 7,
                    "head": {"ref": "main", "repo": {"full_name": head}},
                    "base": {"ref": "main", "repo": {"full_name": THIS_REPOSITORY}},
                },
            }
            ref = "refs/pull/7/merge" if event == "pull_request" else "refs/heads/main"
        elif event == "workflow_run":
            # CI ran for the pull request (a fork's branch may well be called main).
            payload = {
                "action": "completed",
                "workflow_run": {
                    "event": "pull_request",
                    "conclusion": "success",
                    "head_branch": "main",
                    "head_repository": {"full_name": head},
                },
            }
            ref = "refs/heads/main"
        else:
            continue
        contexts.append(
            {
                "github": {
                    "event_name": event,
                    "repository": THIS_REPOSITORY,
                    "ref": ref,
                    "event": payload,
                }
            }
        )
    return contexts


def triggers(workflow: dict) -> set[str]:
    # PyYAML reads the `on` key as the boolean True.
    on = workflow[True]
    return {on} if isinstance(on, str) else set(on)


def reachable(job: dict, contexts: list[dict]) -> bool:
    condition = job.get("if")
    if condition is None:
        return bool(contexts)
    expression = str(condition).strip()
    if expression.startswith("${{") and expression.endswith("}}"):
        expression = expression[3:-2]
    return any(actions_expression_holds(expression, context) for context in contexts)


def violations_of(job_name: str, job: dict) -> list[str]:
    expressions = " ".join(EXPRESSION.findall(yaml.safe_dump(job, width=10**6)))
    found = [
        f"{job_name}: uses the secret {name}"
        for name in sorted(set(NAMED_SECRET.findall(expressions)))
        if not ALLOWED_SECRET.fullmatch(name)
    ]
    if WHOLE_SECRETS.search(expressions):
        found.append(f"{job_name}: reads the secrets context whole or by a computed name")
    if job.get("secrets") == "inherit":
        found.append(f"{job_name}: passes every secret to a reusable workflow (secrets: inherit)")
    environment = job.get("environment")
    if isinstance(environment, dict):
        environment = environment.get("name")
    if environment is not None and environment not in PULL_REQUEST_ENVIRONMENTS:
        found.append(f"{job_name}: runs in the environment {environment}")
    return found


def pull_request_jobs(workflow: dict, root: Path = REPOSITORY, contexts: list[dict] | None = None):
    """(name, job) of every job a pull request can start in this workflow, following
    calls of the reusable workflows of the repository at `root`."""
    if contexts is None:
        contexts = [c for event in sorted(triggers(workflow)) for c in pull_request_contexts(event)]
    for name, job in workflow["jobs"].items():
        if not reachable(job, contexts):
            continue
        yield name, job
        uses = job.get("uses", "")
        if uses.startswith("./"):
            called = yaml.safe_load((root / uses).read_text())
            # A called workflow's jobs run in the caller's event.
            for called_name, called_job in pull_request_jobs(called, root, contexts):
                yield f"{name} -> {called_name}", called_job


def violations(workflow: dict, root: Path = REPOSITORY) -> list[str]:
    return [
        problem
        for name, job in pull_request_jobs(workflow, root)
        for problem in violations_of(name, job)
    ]


def load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def test_no_job_a_pull_request_can_start_sees_a_production_secret_or_environment():
    workflows = sorted(path.name for path in WORKFLOWS.glob("*.y*ml"))
    assert workflows == ["cd.yml", "ci.yml"]
    assert {name: violations(load(name)) for name in workflows} == {"cd.yml": [], "ci.yml": []}


def test_the_check_sees_the_jobs_pull_requests_start_and_not_the_deploys():
    cd = dict(pull_request_jobs(load("cd.yml")))
    ci = dict(pull_request_jobs(load("ci.yml")))
    assert {"preview", "end-to-end"} <= set(cd) and "deploy" not in cd
    assert {"lint", "test", "images"} <= set(ci) and "publish" not in ci


def test_a_write_secret_in_the_preview_is_refused():
    cd = load("cd.yml")
    cd["jobs"]["preview"]["steps"][-1]["env"]["KUBECONFIG_DATA"] = "${{ secrets.KUBECONFIG }}"

    assert violations(cd) == ["preview: uses the secret KUBECONFIG"]


def test_the_production_environment_on_a_pull_request_job_is_refused():
    cd = load("cd.yml")
    cd["jobs"]["preview"]["environment"] = {"name": "production", "url": "https://items"}

    assert violations(cd) == ["preview: runs in the environment production"]


def test_a_deploy_a_forks_pull_request_can_reach_through_workflow_run_is_refused():
    """The deploy's guard is what keeps it from a fork's CI run on a branch named main."""
    cd = load("cd.yml")
    cd["jobs"]["deploy"]["if"] = "github.event.workflow_run.conclusion == 'success'"

    problems = violations(cd)

    assert "deploy: uses the secret KUBECONFIG" in problems
    assert "deploy: uses the secret PULUMI_ACCESS_TOKEN" in problems
    assert "deploy: runs in the environment production" in problems


def test_secrets_read_whole_or_inherited_by_a_called_workflow_are_refused():
    ci = load("ci.yml")
    ci["jobs"]["lint"]["steps"][0]["env"] = {"ALL": "${{ toJSON(secrets) }}"}
    ci["jobs"]["lint"]["steps"][1]["env"] = {"ONE": "${{ secrets[format('{0}', 'X')] }}"}
    ci["jobs"]["reuse"] = {"uses": "acme/shared/.github/workflows/x.yml@main", "secrets": "inherit"}

    assert violations(ci) == [
        "lint: reads the secrets context whole or by a computed name",
        "reuse: passes every secret to a reusable workflow (secrets: inherit)",
    ]


def test_a_reusable_workflow_of_this_repository_is_checked_as_part_of_its_caller(tmp_path):
    called = copy.deepcopy(load("cd.yml"))
    called[True] = {"workflow_call": None}
    called["jobs"] = {"deploy": {k: v for k, v in called["jobs"]["deploy"].items() if k != "if"}}
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "deploy.yml").write_text(yaml.safe_dump(called))
    ci = load("ci.yml")
    ci["jobs"]["call"] = {"uses": "./.github/workflows/deploy.yml"}

    problems = violations(ci, root=tmp_path)

    assert "call -> deploy: uses the secret KUBECONFIG" in problems
    assert "call -> deploy: runs in the environment production" in problems
