import pytest

from tests.containers.docker_cli import (
    SERVICE_PORTS,
    build_image,
    container_logs,
    docker,
    require_engine,
)
from tests.containers.stack import ContainerStack
from tests.support.database import create_database, drop_database


@pytest.fixture(scope="session")
def images():
    """Both images, built from the project's Dockerfiles (the build cache keeps reruns fast)."""
    require_engine()
    for service in SERVICE_PORTS:
        build_image(service)
        # Earlier builds of this image, now untagged, would pile up run after run.
        docker(
            "image",
            "prune",
            "--force",
            "--filter",
            f"label=org.opencontainers.image.title={service}",
        )
    return SERVICE_PORTS


@pytest.fixture(scope="session")
def stack(images):
    database = create_database("itemsdb_containers")
    stack = ContainerStack(database)
    try:
        yield stack
    finally:
        stack.close()
        drop_database(database)


@pytest.fixture(scope="session")
def audit_container(stack):
    container = stack.run_audit()
    stack.wait_until_ready_inside(container, SERVICE_PORTS["audit-service"])
    return container


@pytest.fixture(scope="session")
def items_container(stack, audit_container):
    container = stack.run_items()
    stack.wait_until_ready(
        stack.published_url(container, SERVICE_PORTS["items-service"]), container
    )
    return container


@pytest.fixture(scope="session")
def items_url(stack, items_container):
    return stack.published_url(items_container, SERVICE_PORTS["items-service"])


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing container test shows what the containers logged."""
    report = yield
    stack = item.funcargs.get("stack")
    if report.failed and stack is not None:
        for container in stack.containers:
            report.sections.append((f"docker logs {container}", container_logs(container)))
    return report
