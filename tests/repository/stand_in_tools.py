"""Stand-in commands on PATH for running the repository's shell scripts without the
tools they drive: each answers as the real one does for the calls a test names, and
records every call, so that a test can say which commands ran."""

from pathlib import Path


class Tools:
    """Stand-in commands on PATH, each a bash `case` over its arguments."""

    def __init__(self, directory: Path):
        self.bin = directory / "bin"
        self.bin.mkdir()
        self.calls = directory / "calls.log"
        self.calls.touch()

    def add(self, name: str, cases: str) -> None:
        script = self.bin / name
        script.write_text(
            "#!/usr/bin/env bash\n"
            f'echo "{name} $*" >>"{self.calls}"\n'
            f'case "$*" in\n{cases}\n  *) exit 0 ;;\nesac\n'
        )
        script.chmod(0o755)

    def called(self) -> list[str]:
        return self.calls.read_text().splitlines()
