"""`.github/CODEOWNERS`: the review gates the write-up relies on (infra/ and database/
need their owners' approval) name paths that exist and owners GitHub can parse."""

import re

from tests.support.repository_files import REPOSITORY

CODEOWNERS = REPOSITORY / ".github" / "CODEOWNERS"
OWNER = re.compile(r"^@[A-Za-z0-9-]+(/[A-Za-z0-9_.-]+)?$")


def rules() -> list[tuple[str, list[str]]]:
    lines = [line.split("#")[0].split() for line in CODEOWNERS.read_text().splitlines()]
    return [(words[0], words[1:]) for words in lines if words]


def owners_of(path: str) -> list[str]:
    """The owners GitHub applies to a file: the last matching rule wins."""
    matched: list[str] = []
    for pattern, owners in rules():
        anchored = pattern.strip("/")
        if pattern == "*" or path == anchored or path.startswith(anchored + "/"):
            matched = owners
    return matched


def test_every_rule_names_an_existing_path_and_well_formed_owners():
    for pattern, owners in rules():
        assert pattern == "*" or (REPOSITORY / pattern.strip("/")).exists(), pattern
        assert owners and all(OWNER.match(owner) for owner in owners), pattern


def test_infrastructure_and_migrations_need_their_own_owners():
    catch_all = owners_of("README.md")
    for path in (
        "infra/program.py",
        "Pulumi.yaml",
        "policy/__main__.py",
        ".github/workflows/cd.yml",
    ):
        assert owners_of(path) not in ([], catch_all), path
    assert owners_of("database/schema.sql") not in ([], catch_all, owners_of("infra/program.py"))
