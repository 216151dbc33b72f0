"""The files around the program agree with it: Pulumi.yaml, the dev stack,
the kind cluster config and the program's pinned requirements."""

import contextvars
import dataclasses

import pulumi
import yaml

from infra import mock_runtime, render
from infra.config import (
    GRAFANA_NODE_PORT,
    ITEMS_NODE_PORT,
    KIND_HOST_PORTS,
    PROMETHEUS_NODE_PORT,
    StackConfig,
    load,
)
from infra.program import REPO_ROOT


def _yaml(path: str) -> dict:
    return yaml.safe_load((REPO_ROOT / path).read_text())


def test_pulumi_yaml_runs_the_python_program_in_infra():
    project = _yaml("Pulumi.yaml")
    assert project["name"] == "items-audit"
    assert project["runtime"]["name"] == "python"
    assert project["main"] == "infra/"
    assert (REPO_ROOT / "infra" / "__main__.py").exists()


def test_the_kind_cluster_publishes_every_node_port_on_the_host_port_the_outputs_name(run):
    cluster = _yaml("kind/cluster.yaml")
    mappings = {
        m["containerPort"]: m["hostPort"]
        for node in cluster["nodes"]
        for m in node.get("extraPortMappings", [])
    }
    assert mappings == KIND_HOST_PORTS
    assert set(mappings) == {ITEMS_NODE_PORT, GRAFANA_NODE_PORT, PROMETHEUS_NODE_PORT}
    assert run.outputs["items_url"] == f"http://localhost:{mappings[ITEMS_NODE_PORT]}"
    assert cluster["name"] == StackConfig().kind_cluster_name


def _e2e_versions() -> dict[str, str]:
    return dict(
        line.split("=", 1)
        for line in (REPO_ROOT / "e2e" / "versions.env").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )


def test_the_kind_node_image_is_pinned_by_digest_to_the_kubernetes_the_e2e_tier_runs():
    [node] = _yaml("kind/cluster.yaml")["nodes"]
    image, digest = node["image"].split("@sha256:")
    assert len(digest) == 64
    assert image == f"kindest/node:{_e2e_versions()['KUBERNETES_VERSION'].split()[0]}"


def test_the_e2e_tier_runs_the_pulumi_sdks_the_program_pins():
    pinned = dict(
        line.split("==")
        for line in (REPO_ROOT / "infra" / "requirements.txt").read_text().splitlines()
        if line.startswith("pulumi")
    )
    versions = _e2e_versions()
    e2e = {
        "pulumi": versions["PULUMI_PYTHON_SDK_VERSION"],
        **{
            f"pulumi-{name}": versions[f"PULUMI_{name.upper()}_SDK_VERSION"]
            for name in ("kubernetes", "docker", "random", "command")
        },
    }
    assert e2e == pinned


def test_the_program_and_the_tests_pin_the_same_pulumi_packages():
    def pins(path):
        lines = (REPO_ROOT / path).read_text().splitlines()
        return {
            line.split("==")[0].lower(): line.split("==")[1]
            for line in lines
            if "==" in line and not line.startswith("#")
        }

    program, tests = pins("infra/requirements.txt"), pins("requirements-dev.txt")
    for package, version in program.items():
        assert tests.get(package) == version, package


class _NoResources(pulumi.runtime.Mocks):
    def new_resource(self, args):
        raise AssertionError("reading the settings creates nothing")

    def call(self, args):
        raise AssertionError("reading the settings calls nothing")


def _settings_of(stack_file) -> StackConfig:
    """The settings the program reads from a stack file, as the CLI passes them."""

    def read() -> StackConfig:
        pulumi.runtime.set_mocks(_NoResources(), project="items-audit", stack="dev")
        pulumi.runtime.set_all_config(mock_runtime.stack_config(stack_file))
        return load()

    return contextvars.Context().run(read)


def test_the_tracked_dev_stack_writes_out_every_default_and_changes_none():
    defaults = StackConfig()
    written = yaml.safe_load(render.DEV_STACK_FILE.read_text())["config"]
    unset = {f.name for f in dataclasses.fields(StackConfig) if getattr(defaults, f.name) is None}
    assert {key.removeprefix("items-audit:") for key in written} == {
        f.name for f in dataclasses.fields(StackConfig)
    } - unset
    assert all(isinstance(value, str) for value in written.values()), "as `config set` writes"
    assert _settings_of(render.DEV_STACK_FILE) == defaults
    comments = render.DEV_STACK_FILE.read_text()
    for name in unset:
        assert f" {name} " in comments or f" {name}," in comments, name


def test_the_render_and_the_mock_runs_read_the_dev_stack_from_its_file(tmp_path):
    """The same objects whether the settings come from the tracked file or the
    program's defaults: the file is the dev stack, and says nothing else."""
    render.render(tmp_path / "from-file")
    changed = tmp_path / "Pulumi.dev.yaml"
    changed.write_text(
        render.DEV_STACK_FILE.read_text().replace(
            'items-audit:items_replicas: "2"', 'items-audit:items_replicas: "3"'
        )
    )
    render.render(tmp_path / "changed", changed)

    def files(directory):
        return {path.name: path.read_text() for path in sorted(directory.glob("*.yaml"))}

    from_defaults = {
        render.file_name(manifest): yaml.safe_dump(render.canonical(manifest), sort_keys=False)
        for manifest in mock_runtime.run({}).kubernetes_objects()
    }
    assert files(tmp_path / "from-file") == from_defaults
    deployment = yaml.safe_load(files(tmp_path / "changed")["deployment-items-service.yaml"])
    assert deployment["spec"]["replicas"] == 3
