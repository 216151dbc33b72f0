"""The README tells the truth about the repository: its commands exist, and its
configuration, API and environment sections cover what the code reads and serves."""

import dataclasses
import re

import pytest

from audit_service.openapi import DOCUMENT as AUDIT_OPENAPI
from infra.config import StackConfig
from items_service.openapi import DOCUMENT as ITEMS_OPENAPI
from tests.repository.shell_commands import REPOSITORY, commands, fenced_blocks, missing_references

README = (REPOSITORY / "README.md").read_text()
BLOCKS = fenced_blocks(README)
SERVICE_ENVIRONMENT = (
    "DATABASE_URL",
    "DATABASE_URL_FILE",
    "AUDIT_TOKEN",
    "AUDIT_TOKEN_FILE",
    "AUDIT_SERVICE_URL",
    "PORT",
    "WEB_CONCURRENCY",
    "LOG_LEVEL",
    "PROMETHEUS_MULTIPROC_DIR",
    "BIND_ADDRESS",
    "TRUSTED_PROXY_COUNT",
    "AUDIT_OUTBOX_LIMIT",
    "DATABASE_VOLUME_BYTES",
    "AUDIT_RETENTION_DAYS",
)


def section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", README, re.MULTILINE | re.DOTALL)
    assert match, f"README has no section '## {title}'"
    return match.group(1)


def test_the_quickstart_is_exactly_two_commands():
    blocks = fenced_blocks(section("Quickstart"))
    assert [command.words for command in commands(blocks[0])] == [["make", "up"], ["make", "test"]]


@pytest.mark.parametrize("block", BLOCKS, ids=lambda block: block.splitlines()[0][:60])
def test_every_command_in_the_readme_finds_what_it_needs(block):
    problems = [problem for command in commands(block) for problem in missing_references(command)]
    assert not problems, "\n".join(problems)


def test_the_assignments_flow_is_there_as_written():
    flow = section("Try it: the assignment's flow")
    assert "curl -X POST http://localhost:8080/items" in flow
    assert '-d \'{"name": "Test Item", "description": "Testing"}\'' in flow
    assert "curl http://localhost:8080/items" in flow
    query = "SELECT * FROM audit_logs ORDER BY created_at DESC LIMIT 5;"
    assert f'psql -U postgres -d itemsdb -c "{query}"' in flow
    # The pod is named by its StatefulSet, not guessed; scripts/up prints the same command.
    command = "kubectl exec -it -n items-audit statefulset/postgres -- \\\n  psql -U postgres"
    assert command in flow
    up = (REPOSITORY / "scripts" / "up").read_text()
    assert "exec -it -n ${namespace} statefulset/postgres -- psql -U postgres" in up
    for document in (README, up):
        assert not re.search(r"exec[^\n]*\spostgres-0\b", document), "the pod's name is guessed"


def test_the_architecture_diagram_shows_every_component():
    diagram = re.search(r"^```mermaid\n(.*?)^```", README, re.MULTILINE | re.DOTALL)
    assert diagram, "README has no Mermaid diagram"
    for component in (
        "items-service",
        "audit-service",
        "PostgreSQL",
        "outbox relay",
        "migration Job",
        "proxy",
        "Prometheus",
        "Grafana",
        "default-deny",
    ):
        assert component in diagram.group(1)


def test_every_stack_setting_the_program_reads_is_documented():
    keys = {field.name for field in dataclasses.fields(StackConfig)}
    table = section("Deploying: more than the quickstart")
    assert not {key for key in keys if f"`{key}`" not in table}


def test_every_route_of_both_services_is_in_the_api_summary():
    api = section("API")
    for document in (ITEMS_OPENAPI, AUDIT_OPENAPI):
        for path, operations in document["paths"].items():
            for method in operations:
                if method != "parameters":
                    assert f"`{method.upper()} {path.replace('{item_id}', '{id}')}" in api


def test_every_service_setting_is_documented():
    deploying = section("Deploying: more than the quickstart")
    assert not [name for name in SERVICE_ENVIRONMENT if f"`{name}`" not in deploying]


def test_the_troubleshooting_covers_the_failures_people_hit():
    troubleshooting = section("Troubleshooting")
    for symptom in (
        "ImagePullBackOff",
        "NetworkPolicies not enforced",
        "already in use",
        "deleted or recreated without `make down`",
        "migration Job failed",
        "is refused",
        "Wrong passphrase",
    ):
        assert symptom in troubleshooting
    assert "0.24" in troubleshooting


WRITEUP = (REPOSITORY / "WRITEUP.md").read_text()


@pytest.mark.parametrize("name", ["README.md", "WRITEUP.md"])
def test_every_repository_path_the_documents_cite_exists(name):
    text = (REPOSITORY / name).read_text()
    cited = {word for word in re.findall(r"`([^`\s]+)`", text) if "/" in word}
    missing = [
        word
        for word in sorted(cited)
        if _looks_like_repository_path(word) and not (REPOSITORY / word).exists()
    ]
    assert not missing


def _looks_like_repository_path(word: str) -> bool:
    first = word.split("/")[0]
    return bool(first) and not re.search(r"[:$<>@=*{}]", word) and (REPOSITORY / first).exists()


def test_the_writeup_covers_the_delivery_path_and_compares_the_tools():
    for stage in ("Build", "Scan", "Sign", "Push", "Promote", "Approve", "Migrate", "Roll out"):
        assert f"| {stage} |" in WRITEUP
    for topic in ("digest", "rollback", "expand", "Secrets", "Today", "Planned", "Left out"):
        assert topic.lower() in WRITEUP.lower()
    for tool in (
        "GitHub Actions",
        "GitLab CI",
        "Jenkins",
        "Pulumi Deployments",
        "Argo CD",
        "Flux",
        "GHCR",
        "ECR",
        "Trivy",
        "Grype",
        "cosign",
        "Argo Rollouts",
        "Flagger",
        "Pulumi ESC",
        "External Secrets",
        "SOPS",
    ):
        assert tool in WRITEUP
