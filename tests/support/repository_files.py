"""The repository's files as the working tree has them: what git tracks, and new
files it would track (not the ignored ones: virtualenvs, caches, stack files)."""

import subprocess
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]


def repository_files() -> list[str]:
    """Their paths relative to the repository, sorted; files only (a deleted but
    still tracked file is left out)."""
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return sorted(path for path in listing.split("\0") if path and (REPOSITORY / path).is_file())
