"""The README and the guides in docs/ tell the truth about the repository: the
quickstart's commands exist, the versions it names are the ones the code checks, the
outputs it reads are the program's, and the sections that moved out of the README
(configuration, API, troubleshooting) cover what the code reads and serves. Links and
cited evidence are checked by test_doc_references.py."""

import dataclasses
import re

import pytest

from audit_service.openapi import DOCUMENT as AUDIT_OPENAPI
from infra.config import StackConfig
from items_service.openapi import DOCUMENT as ITEMS_OPENAPI
from tests.repository.shell_commands import REPOSITORY, commands, fenced_blocks, missing_references

README = (REPOSITORY / "README.md").read_text()
GUIDES = {path.name: path.read_text() for path in sorted((REPOSITORY / "docs").glob("*.md"))}
DESIGN = GUIDES["DESIGN.md"]
WRITEUP = (REPOSITORY / "WRITEUP.md").read_text()
BLOCKS = [
    (name, block)
    for name, text in [("README.md", README), *GUIDES.items()]
    for block in fenced_blocks(text)
]
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


def section(text: str, title: str) -> str:
    """The body under the heading `title` (of any level), up to the next heading of
    its level or above."""
    match = re.search(rf"^(#+) {re.escape(title)}\n", text, re.MULTILINE)
    assert match, f"no section '{title}'"
    lines, in_code = [], False
    for line in text[match.end() :].splitlines(keepends=True):
        in_code ^= line.startswith("```")
        if not in_code and re.match(rf"#{{1,{len(match.group(1))}}} ", line):
            break
        lines.append(line)
    return "".join(lines)


def make_targets_run(text: str) -> list[str]:
    return [
        word
        for block in fenced_blocks(text)
        for command in commands(block)
        if command.words[0] == "make"
        for word in command.words[1:]
    ]


def test_the_readme_sets_up_with_two_commands_make_up_and_make_test():
    assert make_targets_run(section(README, "Quickstart"))[0] == "up", "the quickstart deploys"
    assert make_targets_run(section(README, "Run the tests")) == ["test"]
    # Apart from tearing down, nothing else a newcomer must run: `make e2e` is a tier of
    # its own, described, not prescribed.
    assert sorted(make_targets_run(README)) == ["down", "test", "up"]
    assert "`make e2e` is a tier of its own" in README


def test_the_readme_stays_a_five_minute_read():
    assert len(README.splitlines()) <= 180


@pytest.mark.parametrize(
    ("name", "block"),
    BLOCKS,
    ids=[f"{name}:{block.splitlines()[0][:50]}" for name, block in BLOCKS],
)
def test_every_command_in_the_readme_and_the_guides_finds_what_it_needs(name, block):
    problems = [problem for command in commands(block) for problem in missing_references(command)]
    assert not problems, "\n".join(problems)


def test_every_stack_output_the_documents_read_is_one_the_program_exports():
    program = (REPOSITORY / "infra" / "program.py").read_text()
    exported = set(re.findall(r'pulumi\.export\("(\w+)"', program))
    read = {
        word
        for _, block in BLOCKS
        for command in commands(block)
        if command.words[:3] == ["pulumi", "stack", "output"]
        for word in command.words[3:]
        if not word.startswith("-") and word != "dev"
    }
    assert "items_url" in read
    assert read <= exported


def minimums() -> dict[str, str]:
    """The `<TOOL>_MINIMUM` versions scripts/up and scripts/down check."""
    common = (REPOSITORY / "scripts" / "common.sh").read_text()
    return dict(re.findall(r"^readonly (\w+)_MINIMUM=([\d.]+)", common, re.MULTILINE))


def prerequisites() -> dict[str, str]:
    """The quickstart's table: the first cell of each row, and the version it names."""
    rows = {}
    for line in section(README, "Quickstart").splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if line.startswith("|") and len(cells) == 3 and not set(cells[0]) <= {"-"}:
            rows[cells[0]] = cells[1]
    return rows


def test_every_version_the_quickstart_names_is_the_one_the_scripts_check():
    table = prerequisites()
    checked = minimums()
    assert {"KIND", "PULUMI", "PYTHON"} <= set(checked)
    for tool, version in checked.items():
        if tool == "KUBERNETES":
            continue  # a cluster other than kind: docs/configuration.md
        # DOCKER_ENGINE_MINIMUM is the row "Docker", PULUMI_MINIMUM the row "Pulumi CLI".
        (row,) = [
            cell for name, cell in table.items() if tool.split("_")[0].lower() in name.lower()
        ]
        assert f"**{version}** or newer" in row, f"{tool}: scripts check {version}, README: {row}"
    for name, cell in table.items():
        for version in re.findall(r"\*\*([\d.]+)\*\*", cell):
            assert version in checked.values(), f"{name}: {version} is checked by no script"
    configuration = GUIDES["configuration.md"]
    assert f"Kubernetes {checked['KUBERNETES']} or newer" in configuration


def test_the_kind_and_kubernetes_versions_are_the_pinned_ones():
    kind_version = minimums()["KIND"]
    cd = (REPOSITORY / ".github" / "workflows" / "cd.yml").read_text()
    assert f"KIND_VERSION: v{kind_version}" in cd, "CI runs the kind the README asks for"
    assert f"go install sigs.k8s.io/kind@v{kind_version}" in README
    node = re.search(
        r"kindest/node:v(\d+)\.(\d+)\.(\d+)@", (REPOSITORY / "kind" / "cluster.yaml").read_text()
    )
    assert node, "kind/cluster.yaml pins its node image"
    assert f"Kubernetes {node[1]}.{node[2]}" in prerequisites()["kubectl"]
    assert f"kindest/node:v{node[1]}.{node[2]}.{node[3]}" in GUIDES["configuration.md"]
    pulumi_sdk = re.search(
        r"^pulumi==([\d.]+)$", (REPOSITORY / "infra" / "requirements.txt").read_text(), re.M
    )
    assert pulumi_sdk and pulumi_sdk[1] == minimums()["PULUMI"], "the CLI minimum is the SDK pin"


def test_the_assignments_flow_is_there_as_written():
    flow = section(README, "Try it: the assignment's flow")
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
    table = section(GUIDES["configuration.md"], "Stack settings")
    assert not {key for key in keys if f"`{key}`" not in table}


def test_every_route_of_both_services_is_in_the_design_document():
    contracts = {
        "items": (ITEMS_OPENAPI, section(DESIGN, "2. items-service's HTTP API")),
        "audit": (AUDIT_OPENAPI, section(DESIGN, "3. Audit events and the delivery guarantee")),
    }
    for service, (document, text) in contracts.items():
        for path, operations in document["paths"].items():
            path = path.replace("{item_id}", "{id}")
            for method in operations:
                if method == "parameters":
                    continue
                if method == "head":
                    assert "`HEAD` of each GET" in DESIGN and "get" in operations, path
                    continue
                assert f"`{method.upper()} {path}`" in text or f"`{path}`" in text, (
                    f"{service}: {method.upper()} {path}"
                )


def test_every_service_setting_is_in_the_design_document():
    settings = section(DESIGN, "5. Configuration of the services")
    assert not [name for name in SERVICE_ENVIRONMENT if f"`{name}`" not in settings]


def test_the_api_and_metrics_live_in_the_design_document_only():
    """One home: the README and the guides link to DESIGN rather than repeat it."""
    for name, text in [("README.md", README), *GUIDES.items()]:
        if name == "DESIGN.md":
            continue
        assert not re.search(r"^#+ (API|Metrics)\b", text, re.MULTILINE), name
        assert "`audit_delivery_lag_seconds`" not in text, name


def test_the_troubleshooting_covers_the_failures_people_hit():
    troubleshooting = GUIDES["troubleshooting.md"]
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


def test_the_writeup_covers_the_delivery_path_and_compares_the_tools():
    for stage in ("Build", "Scan", "Sign", "Push", "Promote", "Approve", "Migrate", "Roll out"):
        assert f"| {stage} |" in WRITEUP
    for topic in ("digest", "rollback", "expand", "Secrets", "today", "planned", "Left out"):
        assert topic.lower() in WRITEUP.lower()
    for tool in (
        "GitHub Actions",
        "GitLab CI",
        "Jenkins",
        "Helm",
        "Kustomize",
        "Terraform",
        "k3d",
        "minikube",
        "kube-prometheus-stack",
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


def decisions() -> list[list[str]]:
    table = section(WRITEUP, "Decisions at a glance")
    rows = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in table.splitlines()
        if line.startswith("|")
    ]
    return rows[2:]


def test_every_decision_is_scored_against_each_numbered_criterion():
    criteria = re.findall(r"^(\d)\. \*\*", section(WRITEUP, "Evaluation criteria"), re.MULTILINE)
    assert criteria == ["1", "2", "3", "4", "5", "6"]
    rows = decisions()
    assert len(rows) >= 10
    for row in rows:
        decision, chosen, alternatives, *scores, decided_by, where = row
        assert len(scores) == len(criteria), decision
        assert all(score in {"0", "1", "2"} for score in scores), decision
        assert alternatives and decided_by[0].isdigit(), decision
        # Present tense only for what exists: a built choice names its file or job (that
        # what it names exists is test_doc_references.py's check); a planned one says so.
        if "(planned)" in decision:
            assert where == "nothing yet", decision
        else:
            assert "`" in where, decision


def test_the_writeup_states_gradual_rollout_and_automatic_revert_as_targets():
    principle = re.search(
        r"^3\. \*\*Safe by default.*?(?=^4\. )", WRITEUP, re.MULTILINE | re.DOTALL
    )
    assert principle
    assert "target" in principle.group(0)
    assert "no canary and no Alertmanager" in principle.group(0)
    assert "pages a person" not in WRITEUP, "nothing pages anyone: there is no Alertmanager"
    assert "repository settings, not files" not in WRITEUP, "CODEOWNERS is a file"
    assert (REPOSITORY / ".github" / "CODEOWNERS").is_file()
