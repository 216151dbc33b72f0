"""What is inside the final images, and how they are configured."""

import json
import shutil

import pytest

from tests.containers.docker_cli import (
    IMAGE_SOURCE,
    IMAGE_VERSION,
    REPOSITORY,
    SERVICE_PORTS,
    build_image,
    docker,
    docker_result,
    git_revision,
    image_tag,
)
from tests.containers.stack import CONTAINER_GROUP, CONTAINER_USER

SERVICES = list(SERVICE_PORTS)


def image_config(service: str) -> dict:
    return json.loads(
        docker("image", "inspect", "--format", "{{json .Config}}", image_tag(service))
    )


def run_shell(service: str, script: str) -> str:
    """A shell command in a throwaway container of the image, as root so that nothing is hidden."""
    return docker(
        "run", "--rm", "--user", "0", "--entrypoint", "sh", image_tag(service), "-c", script
    )


@pytest.mark.usefixtures("images")
@pytest.mark.parametrize("service", SERVICES)
def test_image_runs_as_a_fixed_numeric_non_root_user(service):
    assert image_config(service)["User"] == f"{CONTAINER_USER}:{CONTAINER_GROUP}"
    assert docker("run", "--rm", image_tag(service), "id", "-u") == str(CONTAINER_USER)


@pytest.mark.usefixtures("images")
@pytest.mark.parametrize("service", SERVICES)
def test_final_image_has_no_compiler_installer_pip_cache_or_tests(service):
    found = run_shell(
        service,
        "command -v gcc cc c++ make;"
        " ls /opt/venv/bin/pip* 2>/dev/null;"
        " /opt/venv/bin/python -c 'import pip' 2>/dev/null && echo 'pip module in the venv';"
        " find / -xdev -path '*/.cache/pip' -print;"
        " find /app /opt/venv/lib/python3*/site-packages/service_common"
        " \\( -name 'tests' -o -name 'test_*.py' -o -name 'conftest.py' \\) -print;"
        " true",
    )
    assert found == ""


@pytest.mark.usefixtures("images")
@pytest.mark.parametrize("service", SERVICES)
def test_final_image_holds_only_the_service_and_its_virtualenv(service):
    package = service.replace("-", "_")
    assert sorted(run_shell(service, "ls -A /app").split()) == sorted(
        ["app.py", "gunicorn.conf.py", package]
    )
    # Code and dependencies belong to root: the service cannot rewrite itself.
    assert run_shell(service, "find /app /opt/venv ! -user root -print") == ""


@pytest.mark.usefixtures("images")
@pytest.mark.parametrize("service", SERVICES)
def test_image_configuration(service):
    config = image_config(service)
    assert config.get("Entrypoint") is None
    assert config["Cmd"] == ["gunicorn", "--config", "gunicorn.conf.py", "app:app"]
    assert config["WorkingDir"] == "/app"
    assert f"{SERVICE_PORTS[service]}/tcp" in config["ExposedPorts"]
    assert {"PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1"} <= set(config["Env"])
    assert config["Healthcheck"]["Test"][0] == "CMD"
    assert {
        "org.opencontainers.image.source": IMAGE_SOURCE,
        "org.opencontainers.image.version": IMAGE_VERSION,
        "org.opencontainers.image.revision": git_revision(),
    }.items() <= config["Labels"].items()


@pytest.mark.usefixtures("images")
@pytest.mark.parametrize("service", SERVICES)
def test_missing_setting_stops_the_container_with_one_line_naming_it(service):
    result = docker_result("run", "--rm", image_tag(service))
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1
    assert f"{service}: configuration error: DATABASE_URL" in result.stderr


@pytest.mark.usefixtures("images")
def test_code_change_rebuilds_without_reinstalling_dependencies(tmp_path):
    """Dependencies sit in layers before the code, so a one-line change reuses them."""
    context = tmp_path / "context"
    for name in ("items-service", "service-common"):
        shutil.copytree(
            REPOSITORY / name, context / name, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(REPOSITORY / ".dockerignore", context)
    with open(context / "items-service" / "app.py", "a") as app:
        app.write("# a one-line change\n")
    tag = "items-audit-test/items-service:code-change"
    try:
        output = build_image("items-service", context=context, tag=tag)
    finally:
        docker("image", "rm", "--force", tag, check=False)
    steps = output.split("\nStep ")
    pip_install = next(
        step for step in steps if "pip install" in step and "requirements.lock" in step
    )
    assert "Using cache" in pip_install
    app_copy = next(step for step in steps if "COPY items-service/app.py" in step)
    assert "Using cache" not in app_copy
