"""What the documents cite as evidence exists: every repository path, test, CI job and
`make` target that README.md, WRITEUP.md and docs/*.md name ("X is tested by Y", "the
`deploy` job does Z"), and every relative link with its anchor. A path git ignores is
no evidence a reader can open, unless the sentence says git ignores it. The comments of
scripts/ and Pulumi.dev.yaml are held to the same: every repository path they cite exists."""

import re
import subprocess
from functools import cache
from pathlib import Path

import pytest
import yaml

from tests.repository.shell_commands import make_targets
from tests.support.repository_files import REPOSITORY, repository_files

DOCUMENTS = [
    "README.md",
    "WRITEUP.md",
    *sorted(f"docs/{p.name}" for p in (REPOSITORY / "docs").glob("*.md")),
]
# A path starts at a top-level directory of the repository and is not a placeholder
# (`database/<NNNN>_<description>.sql`) or a glob.
TOP_LEVEL = sorted(
    {name.split("/")[0] for name in repository_files() if "/" in name}, key=len, reverse=True
)
PATH = re.compile(
    rf"(?<![\w./~-])((?:{'|'.join(map(re.escape, TOP_LEVEL))})/[\w./-]*)"
    r"(?:::(test_\w+))?"
)
TOP_LEVEL_FILE = re.compile(r"`([\w.-]+\.(?:py|ya?ml|json|md|toml|txt|sh))`|`(Makefile)`")
TEST_NAME = re.compile(r"`(test_\w+)`")
MAKE = re.compile(r"`make ([\w.-]+)")
# "the `deploy` job", "the jobs `plan` and `deploy`", "CI `lint`, `test`, `images`",
# "CD `end-to-end`", "The CI job `make test (fresh Debian 12)`".
JOB_LISTS = (
    re.compile(r"\b(?:CI|CD) ((?:`[^`]+`(?:, | and | / )?)+)"),
    re.compile(r"(?<![\w-])jobs? ((?:`[^`]+`(?:, | and )?)+)"),
    re.compile(r"((?:`[^`]+`(?:, | and )?)+) jobs?\b"),
)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def text(document: str) -> str:
    return (REPOSITORY / document).read_text(encoding="utf-8")


def prose(document: str) -> str:
    """The document without its fenced code blocks (commands are checked by the README
    and workflow tests) and without URLs."""
    body = re.sub(r"^```.*?^```", "", text(document), flags=re.MULTILINE | re.DOTALL)
    return re.sub(r"<?https?://[^\s)>]+>?", "", body)


def sentence_around(body: str, start: int) -> str:
    begin = max(body.rfind(". ", 0, start), body.rfind("\n\n", 0, start), body.rfind("|", 0, start))
    ends = [
        i
        for i in (body.find(". ", start), body.find("\n\n", start), body.find("|", start))
        if i >= 0
    ]
    return body[begin + 1 : min(ends) if ends else len(body)]


@cache
def tracked() -> frozenset[str]:
    return frozenset(repository_files())


def is_tracked(path: str) -> bool:
    path = path.rstrip("/.")
    return path in tracked() or any(name.startswith(path + "/") for name in tracked())


def is_ignored(path: str) -> bool:
    """Whether git ignores the path (a trailing slash names a directory)."""
    result = subprocess.run(["git", "check-ignore", "-q", "--no-index", path], cwd=REPOSITORY)
    return result.returncode == 0


@cache
def defined_tests() -> dict[str, set[str]]:
    """Every test function of the suite, by file."""
    found = {}
    for name in tracked():
        if (
            name.startswith("tests/")
            and Path(name).name.startswith("test_")
            and name.endswith(".py")
        ):
            found[name] = set(re.findall(r"^def (test_\w+)\(", text(name), re.MULTILINE))
    return found


@cache
def workflow_jobs() -> set[str]:
    jobs = set()
    for workflow in (REPOSITORY / ".github" / "workflows").glob("*.yml"):
        for job_id, job in yaml.safe_load(workflow.read_text())["jobs"].items():
            jobs |= {job_id, job.get("name", job_id)}
    return jobs


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    heading = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip()).lower()
    return re.sub(r"[^\w\- ]", "", heading).replace(" ", "-")


def anchors(document: str) -> set[str]:
    return {github_anchor(h) for h in re.findall(r"^#+ (.+)$", text(document), re.MULTILINE)}


def broken_references(document: str) -> list[str]:
    body = prose(document)
    problems = []
    for match in PATH.finditer(body):
        written, test_name = match.group(1).rstrip("."), match.group(2)
        path = written.rstrip("/")
        if re.search(r"[<>*{}]|NNNN", path):
            continue
        if not is_tracked(path):
            says_ignored = re.search(
                r"git ignores|ignored by git", sentence_around(body, match.start())
            )
            if not (is_ignored(written) and says_ignored):
                problems.append(f"{path}: not in the repository")
            continue
        if test_name and test_name not in defined_tests().get(path, set()):
            problems.append(f"{path}::{test_name}: no such test")
    for match in TOP_LEVEL_FILE.finditer(body):
        name = match.group(1) or match.group(2)
        # A user's own file (a stack's settings) may be named without being there.
        if (REPOSITORY / name).exists() or is_ignored(name):
            continue
        # A bare file name must be some tracked file's name.
        if not any(Path(tracked_name).name == name for tracked_name in tracked()):
            problems.append(f"{name}: no such file")
    every_test = set().union(*defined_tests().values())
    problems += [
        f"{name}: no such test" for name in TEST_NAME.findall(body) if name not in every_test
    ]
    targets = make_targets()
    problems += [
        f"make {name}: no such target" for name in MAKE.findall(body) if name not in targets
    ]
    for pattern in JOB_LISTS:
        for match in pattern.finditer(body):
            for job in re.findall(r"`([^`/]+)`", match.group(1)):
                if job not in workflow_jobs():
                    problems.append(f"job {job}: in neither workflow")
    for target in LINK.findall(text(document)):
        if re.match(r"[a-z]+:", target):
            continue
        file_part, _, anchor = target.partition("#")
        linked = (
            document
            if not file_part
            else str(((REPOSITORY / document).parent / file_part).resolve().relative_to(REPOSITORY))
        )
        if not (REPOSITORY / linked).exists():
            problems.append(f"link {target}: no such file")
        elif anchor and linked.endswith(".md") and anchor not in anchors(linked):
            problems.append(f"link {target}: no such heading in {linked}")
    return problems


COMMENTED_FILES = sorted(
    name for name in repository_files() if name.startswith("scripts/") or name == "Pulumi.dev.yaml"
)


def comments(name: str) -> str:
    """The `#` comments of a shell script, Dockerfile or YAML file, without the shebang
    and without URLs."""
    lines = re.findall(r"(?:^|\s)#(?!!)(.*)$", text(name), re.MULTILINE)
    return re.sub(r"<?https?://[^\s)>]+>?", "", "\n".join(lines))


def paths_cited_in_comments(name: str) -> list[str]:
    return [
        match.group(1).rstrip(".")
        for match in PATH.finditer(comments(name))
        if not re.search(r"[<>*{}$]|NNNN", match.group(1))
    ]


@pytest.mark.parametrize("name", COMMENTED_FILES)
def test_every_path_a_script_comment_cites_exists(name):
    assert [path for path in paths_cited_in_comments(name) if not is_tracked(path)] == []


def test_the_script_comments_cite_paths_at_all():
    """The comment pattern finds what it is for, so an empty result above means something."""
    cited = {path for name in COMMENTED_FILES for path in paths_cited_in_comments(name)}
    assert {"kind/cluster.yaml", "infra/config.py", "scripts/common.sh"} <= cited


@pytest.mark.parametrize("document", DOCUMENTS)
def test_everything_a_document_cites_exists(document):
    assert broken_references(document) == []


def test_the_documents_cite_evidence_at_all():
    """The patterns find what they are for, so an empty result above means something."""
    everything = " ".join(prose(document) for document in DOCUMENTS)
    assert len(set(PATH.findall(everything))) > 50
    assert {"deploy", "plan", "publish", "end-to-end"} <= {
        job
        for pattern in JOB_LISTS
        for m in pattern.finditer(everything)
        for job in re.findall(r"`([^`]+)`", m.group(1))
    }
    assert {"up", "down", "test", "e2e", "bench"} <= set(MAKE.findall(everything))
    assert len(LINK.findall(" ".join(text(document) for document in DOCUMENTS))) > 20


@pytest.mark.parametrize(
    ("sentence", "problem"),
    [
        (
            "a run also writes them to bench/results/images.json.",
            "bench/results/images.json: not in the repository",
        ),
        ("`tests/services/test_items_api.py::test_no_such_thing` proves it.", "no such test"),
        ("The `promote` job in `cd.yml` does it.", "job promote: in neither workflow"),
        ("Run `make deploy`.", "make deploy: no such target"),
        ("See [the guide](docs/no-such-guide.md).", "no such file"),
        ("See [the quickstart](../README.md#no-such-heading).", "no such heading"),
    ],
)
def test_a_wrong_reference_is_found(tmp_path, monkeypatch, sentence, problem):
    document = "docs/zz-probe.md"
    real_text = text
    monkeypatch.setitem(
        globals(), "text", lambda name: sentence if name == document else real_text(name)
    )
    assert any(problem in found for found in broken_references(document)), broken_references(
        document
    )
