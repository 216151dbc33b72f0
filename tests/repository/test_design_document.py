"""The design lives in the repository (docs/DESIGN.md), and what cites it cites
sections that exist."""

import re

from tests.support.repository_files import REPOSITORY, repository_files

DESIGN = REPOSITORY / "docs" / "DESIGN.md"
REFERENCE = re.compile(r"DESIGN §(\d+)")


def tracked_text_files() -> list[str]:
    return [name for name in repository_files() if name != "docs/DESIGN.md"]


def sections() -> set[str]:
    return set(re.findall(r"^## (\d+)\. ", DESIGN.read_text(encoding="utf-8"), re.MULTILINE))


def test_every_design_reference_names_a_section_of_the_design_document():
    broken = []
    cited = 0
    for name in tracked_text_files():
        try:
            text = (REPOSITORY / name).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for number in REFERENCE.findall(text):
            cited += 1
            if number not in sections():
                broken.append(f"{name}: DESIGN §{number}")
    assert cited > 20, "the code cites the design document"
    assert broken == []


def test_the_design_document_is_numbered_without_gaps():
    numbers = sorted(int(number) for number in sections())
    assert numbers == list(range(1, len(numbers) + 1))


def test_the_readme_links_the_design_document():
    assert "(docs/DESIGN.md)" in (REPOSITORY / "README.md").read_text(encoding="utf-8")
