"""The two service images: built from the repository's Dockerfiles and brought
to the cluster (loaded into kind/minikube, or pushed to a registry), or, when the
stack names an image by digest (built once by CI), used as they are."""

import base64
import hashlib
import json
import shlex
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_command as command
import pulumi_docker as docker
import pulumi_kubernetes as k8s

from infra import pods

REGISTRY_SECRET = "registry-credentials"  # noqa: S105 (the Secret's name)

# Loads one platform of a local image into the kind node. `kind load docker-image`
# fails under Docker's containerd image store ("content digest ... not found");
# an archive of the one platform works with either store. Docker before 28 has
# no `image save --platform`, and no multi-platform images to choose from either.
KIND_LOAD = """\
set -eu
archive="$(mktemp)"
trap 'rm -f "$archive"' EXIT
if docker image save --help | grep -q -- '--platform'; then
  docker image save --platform {platform} --output "$archive" {ref}
else
  docker image save --output "$archive" {ref}
fi
kind load image-archive --name {cluster} "$archive"
"""

# Build inputs that never reach an image (the root .dockerignore drops them too).
IGNORED_PARTS = {"__pycache__", "build", ".pytest_cache"}
IGNORED_SUFFIXES = (".pyc", ".pyo")


def _is_build_input(path: Path) -> bool:
    return (
        path.is_file()
        and not IGNORED_PARTS.intersection(path.parts)
        and not any(part.endswith(".egg-info") for part in path.parts)
        and not path.name.endswith(IGNORED_SUFFIXES)
    )


def content_tag(repo_root: Path, service_dir: str, build_args: dict[str, str]) -> str:
    """A tag that changes exactly when what goes into the image changes: the
    service's directory (with its Dockerfile), the shared package, the
    .dockerignore and the build arguments. Never `latest`."""
    digest = hashlib.sha256()
    paths = [repo_root / ".dockerignore"]
    for directory in (service_dir, "service-common"):
        paths.extend(path for path in (repo_root / directory).rglob("*") if _is_build_input(path))
    for path in sorted(set(paths)):
        if path.exists():
            digest.update(path.relative_to(repo_root).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    for name, value in sorted(build_args.items()):
        digest.update(f"{name}={value}\0".encode())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class LocalEngine:
    """Facts about the Docker engine the images are built in, asked of the docker
    CLI at every preview and update (it follows DOCKER_HOST or the current
    `docker context`, as Colima, Rancher Desktop and Podman set up)."""

    # The engine's endpoint, for pulumi-docker's provider, which does not read
    # docker contexts.
    host: pulumi.Output
    # The engine's own os/arch: what a local cluster's nodes run. pulumi-docker
    # would otherwise build for its plugin binary's architecture (amd64 under Rosetta).
    platform: pulumi.Output

    @classmethod
    def ask(cls) -> "LocalEngine":
        def docker_output(arguments: str) -> pulumi.Output:
            return command.local.run_output(command=f"docker {arguments}").stdout.apply(str.strip)

        return cls(
            host=docker_output("context inspect --format '{{.Endpoints.docker.Host}}'"),
            platform=docker_output("version --format '{{.Server.Os}}/{{.Server.Arch}}'"),
        )

    def kind_node(self, cluster_name: str) -> pulumi.Output:
        """The kind node container's id: a new one when the cluster was created
        again, whose runtime then lacks every image loaded before. "absent"
        while there is no such cluster."""
        node = shlex.quote(f"{cluster_name}-control-plane")
        return command.local.run_output(
            command=f"docker inspect --format '{{{{.Id}}}}' {node} 2>/dev/null || echo absent"
        ).stdout.apply(str.strip)


@dataclass(frozen=True)
class ServiceImageArgs:
    service: str  # the directory holding its Dockerfile, also the image's name
    repo_root: Path
    build_context: str  # the repository root, relative to the program's working directory
    cluster: str  # StackConfig.cluster
    kind_cluster_name: str
    registry: str | None = None
    registry_username: str | None = None
    registry_password: pulumi.Output | None = None
    python_image: str | None = None
    # REGISTRY/NAME@sha256:... built and tested once by CI: deployed as it is, no build.
    prebuilt: str | None = None
    # Where the images are built (pulumi-docker's provider, given to the component,
    # builds in the same engine).
    engine: LocalEngine | None = None
    # The nodes' os/arch for a remote cluster (they pull from the registry).
    remote_platform: str = "linux/amd64"


class ServiceImage(pulumi.ComponentResource):
    """`ref` is what a pod spec uses; `ready` is what the pods must wait for;
    `loaded_locally`: the image reaches the cluster without a registry (so by its
    content tag, not by a registry digest)."""

    ref: pulumi.Output
    ready: list[pulumi.Resource]
    loaded_locally: bool

    def __init__(
        self, name: str, args: ServiceImageArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("items-audit:images:ServiceImage", name, None, opts)
        if args.prebuilt:
            self.ref = pulumi.Output.from_input(args.prebuilt)
            self.ready = []
            self.loaded_locally = False
            self.register_outputs({"ref": self.ref})
            return
        build_args = {"PYTHON_IMAGE": args.python_image} if args.python_image else {}
        tag = content_tag(args.repo_root, args.service, build_args)
        repository = (
            f"{args.registry.rstrip('/')}/{args.service}" if args.registry else args.service
        )
        push = args.cluster == "remote"
        self.loaded_locally = not push
        registry = None
        if push and args.registry_username:
            registry = docker.RegistryArgs(
                server=args.registry.split("/")[0],
                username=args.registry_username,
                password=args.registry_password,
            )
        platform = args.remote_platform if push else args.engine.platform
        image = docker.Image(
            args.service,
            image_name=f"{repository}:{tag}",
            build=docker.DockerBuildArgs(
                context=args.build_context,
                dockerfile=f"{args.build_context}/{args.service}/Dockerfile",
                platform=platform,
                # The content tag doubles as the OCI version label. The git revision
                # is left to CI: as a build argument here it would rebuild on every commit.
                args={**build_args, "VERSION": tag},
            ),
            skip_push=not push,
            registry=registry,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.ready = [image]
        if push:
            # The registry's digest: immutable, and what the nodes verify.
            self.ref = image.repo_digest
        else:
            self.ref = image.image_name
            load = _load_command(args, image, platform, parent=self)
            if load is not None:
                self.ready = [load]
        self.register_outputs({"ref": self.ref})


def _load_command(
    args: ServiceImageArgs, image: docker.Image, platform: pulumi.Output, parent: pulumi.Resource
) -> command.local.Command | None:
    """How a locally built image gets into the cluster's container runtime.
    Docker Desktop's cluster shares the engine the image was built in."""
    if args.cluster == "kind":
        script = pulumi.Output.all(image.image_name, platform).apply(
            lambda values: KIND_LOAD.format(
                ref=shlex.quote(values[0]),
                platform=shlex.quote(values[1]),
                cluster=shlex.quote(args.kind_cluster_name),
            )
        )
        # A kind cluster created again (a new node container) has none of the images.
        triggers = [image.image_name, args.engine.kind_node(args.kind_cluster_name)]
    elif args.cluster == "minikube":
        script = image.image_name.apply(lambda ref: f"minikube image load {shlex.quote(ref)}")
        triggers = [image.image_name]
    else:
        return None
    return command.local.Command(
        f"{args.service}-load",
        create=script,
        triggers=triggers,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[image]),
    )


def registry_pull_secret(
    namespace, registry: str, username: str, password: pulumi.Output, opts: pulumi.ResourceOptions
) -> k8s.core.v1.Secret:
    """The Secret the nodes pull the service images from a private registry with."""
    server = registry.split("/")[0]

    def docker_config(secret: str) -> str:
        auth = base64.b64encode(f"{username}:{secret}".encode()).decode()
        return json.dumps({"auths": {server: {"username": username, "auth": auth}}})

    return k8s.core.v1.Secret(
        REGISTRY_SECRET,
        metadata=pods.metadata(REGISTRY_SECRET, namespace),
        type="kubernetes.io/dockerconfigjson",
        string_data={".dockerconfigjson": pulumi.Output.secret(password).apply(docker_config)},
        opts=opts,
    )
