""".github/scripts/production-stack.sh, which the CD jobs run before `pulumi preview` and
`pulumi up` of production: it works on the team's state backend only, and only on a
production stack that already exists.

The script runs for real (bash); `pulumi` is a stand-in on PATH that records every call
(and what it read on stdin), so that a test can say which commands ran."""

import shutil
import subprocess

import pytest
import yaml

from tests.support.repository_files import REPOSITORY
from tests.support.standin_commands import Tools

CD = REPOSITORY / ".github" / "workflows" / "cd.yml"
STACK = "acme/items-audit/production"
SECRETS = {"REGISTRY_PASSWORD": "ghp-registry-secret", "DATABASE_URL": "postgresql://u:pw@db/x"}

# What `pulumi config set --secret KEY` reads from stdin is recorded on a line of its own.
PULUMI_READING_STDIN = (
    """  'config set --secret '*) echo "stdin: $(cat)" >>"$(dirname "$0")/../calls.log" ;;"""
)


@pytest.fixture
def script(tmp_path):
    """The script in a checkout of its own: nothing it might write lands in the repository."""
    copy = tmp_path / "checkout" / ".github" / "scripts" / "production-stack.sh"
    copy.parent.mkdir(parents=True)
    shutil.copy(REPOSITORY / ".github" / "scripts" / "production-stack.sh", copy)
    return copy


@pytest.fixture
def tools(tmp_path):
    """A backend holding the production stack: every `stack select` of it succeeds."""
    tools = Tools(tmp_path)
    tools.add("pulumi", PULUMI_READING_STDIN)
    return tools


def environment(tools: Tools, **overrides: str | None) -> dict[str, str]:
    env = {
        "PATH": f"{tools.bin}:/usr/bin:/bin",
        "PULUMI_BACKEND_URL": "https://api.pulumi.com",
        "PULUMI_STACK": STACK,
        "PULUMI_ACCESS_TOKEN": "pul-token",
        "IMAGE_REGISTRY": "ghcr.io/Acme",
        "REGISTRY_USERNAME": "deployer",
        "KUBE_CONTEXT": "production",
        "PUBLIC_HOST": "items.example.com",
        "DATABASE_CIDRS": "10.0.12.0/24",
        **SECRETS,
    }
    env.update(overrides)
    return {key: value for key, value in env.items() if value is not None}


def run(script, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(script)], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_without_a_backend_it_refuses_before_calling_pulumi(script, tools):
    result = run(script, environment(tools, PULUMI_BACKEND_URL=None))

    assert result.returncode == 1
    assert "PULUMI_BACKEND_URL is not set" in result.stderr
    assert "lost when the job ends" in result.stderr
    assert tools.called() == []


@pytest.mark.parametrize("backend", ["file://~/.pulumi-local", "file:///var/lib/pulumi-state"])
def test_a_file_backend_on_the_runner_is_refused(script, tools, backend):
    result = run(script, environment(tools, PULUMI_BACKEND_URL=backend))

    assert result.returncode == 1
    assert f"PULUMI_BACKEND_URL is {backend}: a file:// backend is this runner's disk" in (
        result.stderr
    )
    assert tools.called() == []


@pytest.mark.parametrize("stack", ["", "production", "acme/production", "acme/other/production"])
def test_a_stack_not_named_in_full_for_this_project_is_refused(script, tools, stack):
    result = run(script, environment(tools, PULUMI_STACK=stack))

    assert result.returncode == 1
    assert "PULUMI_STACK must name the stack in full, ORGANIZATION/items-audit/STACK" in (
        result.stderr
    )
    assert tools.called() == []


def test_a_mistyped_stack_stops_the_deploy_and_no_stack_is_created(script, tools):
    mistyped = "acme/items-audit/prodution"
    tools.add(
        "pulumi",
        f"  'stack select {mistyped}'*) echo \"error: no stack named '{mistyped}' found\" >&2;"
        " exit 255 ;;",
    )

    result = run(script, environment(tools, PULUMI_STACK=mistyped))

    assert result.returncode == 1
    assert f"error: no stack named '{mistyped}' found" in result.stderr
    assert f"there is no stack {mistyped} at https://api.pulumi.com" in result.stderr
    assert "created once by hand" in result.stderr
    assert tools.called() == [f"pulumi stack select {mistyped} --non-interactive"]


def test_it_selects_the_existing_stack_and_sets_its_configuration_secrets_through_stdin(
    script, tools
):
    result = run(
        script,
        environment(
            tools,
            ITEMS_IMAGE="ghcr.io/acme/items-service@sha256:" + "1" * 64,
            AUDIT_IMAGE="ghcr.io/acme/audit-service@sha256:" + "2" * 64,
        ),
    )

    assert result.returncode == 0, result.stderr
    calls = tools.called()
    assert calls[0] == f"pulumi stack select {STACK} --non-interactive"
    assert not [call for call in calls if "--create" in call or "stack init" in call]
    assert [call.split()[3] for call in calls if call.startswith("pulumi config set ")] == [
        "cluster",
        "kube_context",
        "public_host",
        "database_cidrs",
        "image_registry",
        "registry_username",
        "items_image",
        "audit_image",
        "--secret",
        "--secret",
    ]
    assert "pulumi config set image_registry ghcr.io/acme" in calls
    assert "pulumi config set database_cidrs 10.0.12.0/24" in calls
    # The secrets reached pulumi on stdin only, never on a command line.
    assert [call for call in calls if call.startswith("stdin: ")] == [
        f"stdin: {value}" for value in SECRETS.values()
    ]
    commands = [call for call in calls if call.startswith("pulumi ")]
    assert not [call for call in commands if any(value in call for value in SECRETS.values())]


def cd_jobs() -> dict:
    return yaml.safe_load(CD.read_text())["jobs"]


@pytest.mark.parametrize("job", ["preview", "plan", "deploy"])
def test_the_production_jobs_name_a_backend_the_script_accepts(script, tools, job):
    """Set on the job, so every step (the script, preview or up, stack output) uses it."""
    backend = cd_jobs()[job]["env"]["PULUMI_BACKEND_URL"]
    assert backend == "https://api.pulumi.com", "Pulumi Cloud (WRITEUP §2.1)"

    result = run(script, environment(tools, PULUMI_BACKEND_URL=backend))

    assert result.returncode == 0, result.stderr


def test_the_kind_end_to_end_job_keeps_its_throwaway_local_backend():
    """`make up` on the runner's kind cluster: a local stack, gone with the runner."""
    end_to_end = cd_jobs()["end-to-end"]
    assert "PULUMI_BACKEND_URL" not in (end_to_end.get("env") or {})
    assert "PULUMI_BACKEND_URL" not in (yaml.safe_load(CD.read_text()).get("env") or {})


def test_without_the_databases_addresses_it_stops_before_setting_the_database(script, tools):
    result = run(script, environment(tools, DATABASE_CIDRS=None))

    assert result.returncode != 0
    assert "the database server's address ranges" in result.stderr
    assert not [call for call in tools.called() if "database_url" in call or "stdin: " in call]


@pytest.mark.parametrize("name", ["KUBE_CONTEXT", "DATABASE_URL"])
def test_an_unset_setting_is_refused_by_name_before_any_pulumi_command(script, tools, name):
    result = run(script, environment(tools, **{name: None}))

    assert result.returncode == 1
    assert f"production-stack.sh: {name} is not set" in result.stderr
    assert "unbound variable" not in result.stderr
    assert tools.called() == []
