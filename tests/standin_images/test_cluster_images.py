"""The cluster's own images (e2e/pods/images: probe, coredns, pause), as the real-node
tier's pods run them: unprivileged, on a read-only root, with no capabilities."""

import json
import socket
import struct
import time
import uuid

from tests.containers.docker_cli import docker, docker_result

HARDENED = ["--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges"]


def cluster_image(name: str) -> str:
    label = f"label=items-audit.stand-in-for=the cluster's {name}"
    tags = docker("images", "--filter", label, "--format", "{{.Repository}}:{{.Tag}}").split()
    assert tags, f"no {name} image: run e2e/pods/images/build first"
    return tags[0]


def probe(pods, *arguments: str) -> dict:
    """One `probe` run in a throwaway container on the pods' network."""
    result = docker_result(
        "run", "--rm", "--network", pods.network, *HARDENED, cluster_image("probe"),
        "probe", "--timeout", "3", *arguments,
    )  # fmt: skip
    outcome = json.loads(result.stdout)
    assert (result.returncode == 0) is (outcome["outcome"] == "ok"), result
    return outcome


def test_the_probe_tells_an_open_port_from_a_refused_one_and_a_login_from_a_refusal(pods, postgres):
    assert probe(pods, "tcp", "postgres", "5432")["outcome"] == "ok"
    assert probe(pods, "tcp", "postgres", "5433")["outcome"] == "refused"
    assert probe(pods, "dns", "postgres")["detail"] == postgres.address()
    superuser = pods.manifests.secret_value("postgres-admin", "password")
    login = probe(pods, "postgres", f"postgresql://postgres:{superuser}@postgres/itemsdb")
    assert (login["outcome"], login["detail"]) == ("ok", "1")
    refused = probe(pods, "postgres", "postgresql://postgres:not-the-password@postgres/itemsdb")
    assert refused["outcome"] == "error"
    assert "password authentication failed" in refused["detail"]


def test_a_probe_container_stops_at_once_on_sigterm():
    name = f"standin-probe-{uuid.uuid4().hex[:8]}"
    docker("run", "--detach", "--name", name, *HARDENED, cluster_image("probe"))
    try:
        deadline = time.monotonic() + 30
        while '"waiting"' not in docker("logs", name):
            assert time.monotonic() < deadline, "the probe container never said it waits"
            time.sleep(0.2)
        docker("stop", "--time", "30", name, timeout=5)
        assert docker("inspect", "--format", "{{.State.ExitCode}}", name) == "0"
    finally:
        docker("rm", "--force", name, check=False)


def test_the_pause_image_is_the_pause_binary_alone_and_stops_on_sigterm():
    image = cluster_image("pause")
    assert json.loads(docker("inspect", "--format", "{{json .Config.Entrypoint}}", image)) == [
        "/pause"
    ]
    name = f"standin-pause-{uuid.uuid4().hex[:8]}"
    docker("run", "--detach", "--name", name, *HARDENED, image)
    try:
        docker("stop", "--time", "30", name, timeout=5)
        assert docker("inspect", "--format", "{{.State.ExitCode}}", name) == "0"
    finally:
        docker("rm", "--force", name, check=False)


def test_coredns_answers_on_a_port_above_1024_without_any_capability(tmp_path):
    corefile = tmp_path / "Corefile"
    corefile.write_text(".:1053 {\n    hosts {\n        10.96.0.42 postgres.test.local\n    }\n}\n")
    tmp_path.chmod(0o755)
    corefile.chmod(0o644)
    name = f"standin-coredns-{uuid.uuid4().hex[:8]}"
    docker(
        "run", "--detach", "--name", name, *HARDENED, "--volume", f"{tmp_path}:/etc/coredns:ro",
        cluster_image("coredns"), "-conf", "/etc/coredns/Corefile",
    )  # fmt: skip
    try:
        address = docker("inspect", "--format", "{{.NetworkSettings.IPAddress}}", name)
        status = docker("exec", name, "cat", "/proc/1/status")
        assert "CapEff:\t0000000000000000" in status
        assert not any(line.startswith("Uid:\t0") for line in status.splitlines())
        query = struct.pack(">HHHHHH", 7, 0x0100, 1, 0, 0, 0)
        query += b"".join(
            bytes([len(label)]) + label for label in b"postgres.test.local".split(b".")
        )
        query += b"\0" + struct.pack(">HH", 1, 1)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.settimeout(2)
            for _ in range(10):  # until CoreDNS listens
                client.sendto(query, (address, 1053))
                try:
                    answer = client.recv(512)
                    break
                except TimeoutError:
                    continue
            else:
                raise AssertionError(docker_result("logs", name).stderr)
        assert struct.unpack(">H", answer[6:8])[0] == 1
        assert socket.inet_ntoa(answer[-4:]) == "10.96.0.42"
    finally:
        docker("rm", "--force", name, check=False)
