"""CI's Trivy jobs scan every image the stack runs: the images it builds from the
repository's Dockerfiles (the `images` job) and every other image the rendered manifests
name (`third-party-images`, whose list CI reads from the render at run time). The
expected set is read here from `python -m infra.render`'s files, so an image the
program gains cannot go unscanned."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from infra import mock_runtime, render, third_party_images
from tests.support.repository_files import REPOSITORY

CI = REPOSITORY / ".github" / "workflows" / "ci.yml"


def ci() -> dict:
    return yaml.safe_load(CI.read_text())


def every_image(value) -> set[str]:
    """Every `image` field anywhere in a manifest."""
    if isinstance(value, dict):
        found = {value["image"]} if isinstance(value.get("image"), str) else set()
        return found.union(*(every_image(item) for item in value.values()))
    if isinstance(value, list):
        return set().union(*(every_image(item) for item in value))
    return set()


@pytest.fixture(scope="module")
def rendered_images(tmp_path_factory) -> set[str]:
    directory = tmp_path_factory.mktemp("rendered")
    render.render(directory)
    manifests = [yaml.safe_load(path.read_text()) for path in directory.glob("*.yaml")]
    return set().union(*(every_image(manifest) for manifest in manifests))


@pytest.fixture(scope="module")
def built_images() -> dict[str, str]:
    """The images the program builds, by the directory holding their Dockerfile."""
    run = mock_runtime.run({})
    return {
        Path(image.inputs["build"]["dockerfile"]).parent.name: image.inputs["imageName"]
        for image in run.by_type("docker:index/image:Image")
    }


def step(job: str, step_id: str) -> dict:
    (found,) = [s for s in ci()["jobs"][job]["steps"] if s.get("id") == step_id]
    return found


@pytest.fixture(scope="module")
def listed_by_ci(tmp_path_factory) -> list[str]:
    """What CI's listing step writes to its output, by running that step's script as the
    runner does (bash -e, pipefail) with this test environment's Python as `python`."""
    work = tmp_path_factory.mktemp("ci-step")
    shim = work / "bin" / "python"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    shim.chmod(0o755)
    output = work / "github-output"
    output.touch()
    result = subprocess.run(
        [
            "bash",
            "--noprofile",
            "--norc",
            "-eo",
            "pipefail",
            "-c",
            step("third-party-image-list", "list")["run"],
        ],
        cwd=REPOSITORY,
        env={
            "PATH": f"{shim.parent}:/usr/bin:/bin",
            "GITHUB_OUTPUT": str(output),
            "HOME": str(work),
        },
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    (line,) = output.read_text().splitlines()
    name, _, value = line.partition("=")
    assert name == "images"
    return json.loads(value)


def test_every_rendered_image_is_either_built_and_scanned_or_listed_for_the_third_party_scan(
    rendered_images, built_images, listed_by_ci
):
    scanned_services = ci()["jobs"]["images"]["strategy"]["matrix"]["service"]
    assert sorted(built_images) == sorted(scanned_services)
    assert rendered_images - set(built_images.values()) == set(listed_by_ci)
    assert set(built_images.values()) <= rendered_images, "every built image runs"


def test_the_third_party_images_are_pinned_by_digest_as_trivy_pulls_them(listed_by_ci):
    assert len(listed_by_ci) >= 4, "PostgreSQL, nginx, Prometheus, Grafana"
    assert [image for image in listed_by_ci if "@sha256:" not in image] == []


def test_ci_scans_each_listed_image_and_fails_on_a_fixable_high_or_critical_finding():
    jobs = ci()["jobs"]
    listing = jobs["third-party-image-list"]
    assert listing["outputs"]["images"] == "${{ steps.list.outputs.images }}"
    names = [s.get("name", s.get("uses", "")) for s in listing["steps"]]
    install = next(
        i for i, s in enumerate(listing["steps"]) if "infra/requirements.txt" in s.get("run", "")
    )
    assert install < names.index(step("third-party-image-list", "list")["name"])

    scan = jobs["third-party-images"]
    assert scan["needs"] == "third-party-image-list"
    assert scan["strategy"]["matrix"]["image"] == (
        "${{ fromJSON(needs.third-party-image-list.outputs.images) }}"
    )
    assert scan["strategy"]["fail-fast"] is False, "one finding does not hide the others"
    (trivy,) = [
        s for s in scan["steps"] if s.get("uses", "").startswith("aquasecurity/trivy-action@")
    ]
    assert trivy["with"]["image-ref"] == "${{ matrix.image }}"
    assert trivy["with"]["exit-code"] == "1"


def test_an_image_the_program_gains_anywhere_in_a_pod_spec_is_listed():
    """A CronJob's init container, a Pod's ephemeral container: each is listed."""
    run = mock_runtime.Run()
    cron_job = {
        "kind": "CronJob",
        "spec": {
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {
                            "initContainers": [
                                {"name": "a", "image": "busybox:1.37@sha256:" + "a" * 64}
                            ],
                            "containers": [{"name": "b", "image": "items-service:0123"}],
                        }
                    }
                }
            }
        },
    }
    pod = {
        "kind": "Pod",
        "spec": {"ephemeralContainers": [{"name": "c", "image": "debug:1@sha256:" + "c" * 64}]},
    }
    run.resources = [
        mock_runtime.Registered("kubernetes:batch/v1:CronJob", "job", "urn:1", cron_job, set(), ""),
        mock_runtime.Registered("kubernetes:core/v1:Pod", "pod", "urn:2", pod, set(), ""),
        mock_runtime.Registered(
            "docker:index/image:Image",
            "items-service",
            "urn:3",
            {"imageName": "items-service:0123"},
            set(),
            "",
        ),
    ]

    assert third_party_images.third_party_images(run) == [
        "busybox:1.37@sha256:" + "a" * 64,
        "debug:1@sha256:" + "c" * 64,
    ]
