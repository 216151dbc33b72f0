"""The shell commands a README code block or a workflow `run:` step asks for, and
what each one needs from the repository: its `make` targets, its scripts and the
repository paths among its arguments."""

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from tests.support.repository_files import REPOSITORY

SHELL_LANGUAGES = ("bash", "sh", "shell")
# Operators, redirections and the `$` of a `$(...)`: they end a simple command.
SEPARATOR = re.compile(r"[();<>|&$]+")
# Arguments ending so are files, even without a directory part (`gunicorn.conf.py`).
FILE_SUFFIXES = (".py", ".txt", ".yml", ".yaml", ".sql", ".json", ".md", ".toml", ".sh")


@dataclass(frozen=True)
class Command:
    words: list[str]
    directory: Path  # where it runs, after the `cd`s before it in the same script


def fenced_blocks(markdown: str) -> list[str]:
    """The bodies of the shell code blocks (```bash, ```sh, ```shell) of a Markdown text."""
    pattern = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
    return [body for language, body in pattern.findall(markdown) if language in SHELL_LANGUAGES]


def commands(script: str, directory: Path = REPOSITORY) -> list[Command]:
    """Every simple command of a script, split at control operators, with the
    directory it runs in; `cd` commands move that directory. Quoted strings
    must not span lines."""
    found = []
    for line in script.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        words: list[str] = []
        redirect_target = False
        for token in [*lexer, ";"]:
            if not SEPARATOR.fullmatch(token):
                # What a redirection names (a file it writes, a descriptor) is no repository path.
                if not redirect_target:
                    words.append(token)
                redirect_target = False
                continue
            if token[0] in "<>":
                redirect_target = True
                if words and words[-1].isdigit():  # the 2 of 2>&1
                    words.pop()
                continue
            words = _without_assignments(words)
            if words:
                found.append(Command(words, directory))
                if words[0] == "cd" and len(words) == 2:
                    directory = (directory / words[1]).resolve()
            words = []
    return found


def _without_assignments(words: list[str]) -> list[str]:
    """The words after leading NAME=value environment assignments."""
    index = 0
    while index < len(words) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[index]):
        index += 1
    return words[index:]


def make_targets() -> set[str]:
    makefile = (REPOSITORY / "Makefile").read_text()
    return set(re.findall(r"^([A-Za-z0-9_.-]+):", makefile, re.MULTILINE))


def missing_references(command: Command) -> list[str]:
    """What the command needs from the repository and does not find there."""
    words = command.words
    program, arguments = words[0], words[1:]
    problems = []
    if program == "make":
        targets = make_targets()
        problems += [
            f"`make {word}`: no such Makefile target"
            for word in arguments
            if not word.startswith("-") and word not in targets
        ]
    if program == "cd" and arguments and not (command.directory / arguments[0]).is_dir():
        problems.append(f"`cd {arguments[0]}`: no such directory in {command.directory}")
    if _is_repository_path(program, command.directory, is_program=True):
        path = command.directory / program
        if not path.is_file():
            problems.append(f"`{program}`: no such script")
        elif not path.stat().st_mode & 0o111:
            problems.append(f"`{program}`: not executable")
    for word in arguments:
        if _is_repository_path(word, command.directory) and not (command.directory / word).exists():
            problems.append(f"`{' '.join(words)}`: {word} does not exist in {command.directory}")
    return problems


def _is_repository_path(word: str, directory: Path, is_program: bool = False) -> bool:
    """Whether a word names a file or directory of the repository (as opposed to
    an option, a URL, an image, a label selector, a host path or a shell expansion)."""
    if not word or word.startswith(("-", "/", "~")) or re.search(r"[\s$=:*{}'\"<>@,]", word):
        return False
    if word in (".", ".."):
        return not is_program
    # A path under a directory an earlier command creates (.venv-infra/bin/pip) is not checked.
    first = word.split("/")[0]
    in_repository = (directory / first).exists() or (REPOSITORY / first).exists()
    if is_program:
        return "/" in word and in_repository
    return "/" in word and in_repository or word.endswith(FILE_SUFFIXES)
