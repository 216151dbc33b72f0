"""The real-node tier runs every third-party image the program pins as a stand-in built
here (e2e/pods/images, e2e/pods/README.md). An image the program comes to pin without a
stand-in must stop `e2e/pods/images/build` before anything is built, naming the image:
the tier would otherwise find out only when a kubelet tries to pull it from a registry
it cannot reach."""

import json
import shutil
import subprocess
import sys

from infra import database
from tests.support.repository_files import REPOSITORY, repository_files

BUILD = "e2e/pods/images/build"
# A pin no stand-in stands for (a digest made up for the test).
UNKNOWN_IMAGE = "docker.io/library/mariadb:11.4@sha256:" + "ab" * 32


def check_pins(repository) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(repository / BUILD), "--check-pins"],
        env={"PATH": "/usr/bin:/bin", "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_every_third_party_image_the_program_pins_has_a_stand_in():
    listed = subprocess.run(
        [sys.executable, "-m", "infra.third_party_images"],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    checked = check_pins(REPOSITORY)
    assert checked.returncode == 0, checked.stderr
    assert set(checked.stdout.split(": ", 1)[1].split()) == set(json.loads(listed))


def test_a_pinned_image_without_a_stand_in_stops_the_build_before_anything_is_built(tmp_path):
    copy = tmp_path / "repository"
    for path in repository_files():
        (copy / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPOSITORY / path, copy / path)
    database_module = copy / "infra" / "database.py"
    text = database_module.read_text()
    assert database.POSTGRES_IMAGE in text
    database_module.write_text(text.replace(database.POSTGRES_IMAGE, UNKNOWN_IMAGE))

    checked = check_pins(copy)
    assert checked.returncode == 1
    assert f"the program pins {UNKNOWN_IMAGE}, which has no stand-in" in checked.stderr

    # A real build stops at the same place: before it looks at the bin directory it was
    # given (here one that does not exist), the base image or Docker.
    built = subprocess.run(
        [str(copy / BUILD), str(tmp_path / "no-such-bin-dir")],
        env={"PATH": "/usr/bin:/bin", "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 1
    assert f"the program pins {UNKNOWN_IMAGE}, which has no stand-in" in built.stderr
    assert "no-such-bin-dir" not in built.stderr
