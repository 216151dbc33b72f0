"""The cluster's objects against the offline render: which object is which, what the
render promised of each, and where every other object came from."""

import copy
import ipaddress
import re
from decimal import Decimal

AUTONAMED = "pulumi.com/autonamed"
SECRET_CHECKSUM = "items-audit/secret-checksum"
# The migration Job and its ConfigMap are named by a hash that covers the real
# passwords and the real StatefulSet's uid: no render can know it.
HASHED_NAME = re.compile(r"^(postgres-schema)-[0-9a-f]{10}$")
QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$")
SUFFIXES = {
    None: Decimal(1),
    "m": Decimal("0.001"),
    "k": Decimal(10**3),
    "M": Decimal(10**6),
    "G": Decimal(10**9),
    "T": Decimal(10**12),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
}
API_SERVER = "<the API server's address>"
API_SERVER_PORT = "<the API server's port>"
# What Kubernetes puts into every namespace.
EVERY_NAMESPACE_HAS = {("ConfigMap", "kube-root-ca.crt"), ("ServiceAccount", "default")}


def general_name(metadata: dict) -> str:
    """The name with the part no render can know replaced by `*`: the suffix Pulumi
    gives a name it chooses, the migration Job's hash."""
    name = metadata["name"]
    if (metadata.get("annotations") or {}).get(AUTONAMED) == "true":
        return name.rsplit("-", 1)[0] + "-*"
    return HASHED_NAME.sub(r"\1-*", name)


def identity(manifest: dict) -> tuple[str, str, str]:
    """(kind, namespace, general name)."""
    metadata = manifest["metadata"]
    return manifest["kind"], metadata.get("namespace", ""), general_name(metadata)


def general_names(*manifest_lists: list[dict]) -> dict[str, str]:
    """{name: general name} for every name that has a part no render can know, so that
    references to such objects (a volume naming a ConfigMap) compare too."""
    names = {}
    for manifests in manifest_lists:
        for manifest in manifests:
            name, general = manifest["metadata"]["name"], general_name(manifest["metadata"])
            if name != general:
                names[name] = general
    return names


def api_server_values(endpoint_slice: dict) -> dict:
    """{value: placeholder} for the addresses (as the CIDR of one address) and the ports
    of the API server's EndpointSlice, which the program reads at every deploy: the render
    has the mock cluster's, the cluster its own."""
    values = {}
    for endpoint in endpoint_slice.get("endpoints", []):
        for address in endpoint.get("addresses", []):
            parsed = ipaddress.ip_address(address)
            values[f"{parsed}/{parsed.max_prefixlen}"] = API_SERVER
    for port in endpoint_slice.get("ports", []):
        values[port["port"]] = API_SERVER_PORT
    return values


def _without_unknowables(manifest: dict) -> dict:
    """The manifest with what only the real run can know taken out: a Secret's
    values (only its keys stay; a render has placeholders), the secret checksum
    annotation on pod templates (of those values)."""
    manifest = copy.deepcopy(manifest)
    if manifest["kind"] == "Secret":
        keys = {*(manifest.pop("data", None) or {}), *(manifest.pop("stringData", None) or {})}
        manifest["data"] = dict.fromkeys(sorted(keys), "<secret>")

    def drop_checksums(value):
        if isinstance(value, dict):
            annotations = value.get("annotations")
            if isinstance(annotations, dict):
                annotations.pop(SECRET_CHECKSUM, None)
            for item in value.values():
                drop_checksums(item)
        elif isinstance(value, list):
            for item in value:
                drop_checksums(item)

    drop_checksums(manifest)
    return manifest


def differences(promised, live, names: dict[str, str], path: str = "") -> list[str]:
    """Where `live` does not hold what `promised` says: every key promised present with
    the promised value (the API server adds defaults: keys it adds are fine), lists
    item by item."""
    if isinstance(promised, dict):
        if not isinstance(live, dict):
            return [f"{path}: {live!r} is not a mapping"]
        found = []
        for key, value in promised.items():
            if key not in live:
                # The API server leaves out a field at its zero value (Go's omitempty).
                if value not in (False, 0, "", [], {}, None):
                    found.append(f"{path}.{key}: missing (promised {value!r})")
            else:
                found += differences(value, live[key], names, f"{path}.{key}")
        return found
    if isinstance(promised, list):
        if not isinstance(live, list) or len(live) != len(promised):
            return [f"{path}: {live!r} instead of {promised!r}"]
        return [
            difference
            for index, (want, have) in enumerate(zip(promised, live, strict=True))
            for difference in differences(want, have, names, f"{path}[{index}]")
        ]
    want = names.get(promised, promised) if _nameable(promised) else promised
    have = names.get(live, live) if _nameable(live) else live
    if want != have and (quantity(want) is None or quantity(want) != quantity(have)):
        return [f"{path}: {have!r} instead of {want!r}"]
    return []


def _nameable(value) -> bool:
    return isinstance(value, str | int) and not isinstance(value, bool)


def quantity(value) -> Decimal | None:
    """A Kubernetes quantity's amount (the API server writes 1024Mi as 1Gi); None for
    anything else."""
    match = QUANTITY.match(value) if isinstance(value, str) else None
    return Decimal(match[1]) * SUFFIXES[match[2]] if match else None


def compare(promised: dict, live: dict, names: dict[str, str]) -> list[str]:
    """What the live object lacks or has otherwise than the render promised."""
    return differences(_without_unknowables(promised), _without_unknowables(live), names)


def unexplained(live: list[dict], promised: list[dict]) -> list[tuple[str, str, str]]:
    """The live objects that are neither promised nor made by Kubernetes from a promised
    one (owned by it, directly or not; a Service's Endpoints; a StatefulSet's claims and
    their volumes) nor put by Kubernetes into every namespace."""
    promised_identities = set(map(identity, promised))
    known = {
        item["metadata"]["uid"]: item for item in live if identity(item) in promised_identities
    }
    services = {item["metadata"]["name"] for item in known.values() if item["kind"] == "Service"}
    claims = {
        f"{template['metadata']['name']}-{item['metadata']['name']}-"
        for item in known.values()
        if item["kind"] == "StatefulSet"
        for template in item["spec"].get("volumeClaimTemplates", [])
    }

    def explained(item: dict) -> bool:
        kind, name = item["kind"], item["metadata"]["name"]
        if any(owner["uid"] in known for owner in item["metadata"].get("ownerReferences", [])):
            return True
        if (kind, name) in EVERY_NAMESPACE_HAS or (kind == "Endpoints" and name in services):
            return True
        if kind == "PersistentVolumeClaim" and any(name.startswith(prefix) for prefix in claims):
            return True
        if kind == "PersistentVolume":
            return (item["spec"].get("claimRef") or {}).get("uid") in known
        return False

    remaining = [item for item in live if item["metadata"]["uid"] not in known]
    while True:
        found = [item for item in remaining if explained(item)]
        if not found:
            break
        known.update((item["metadata"]["uid"], item) for item in found)
        remaining = [item for item in remaining if item["metadata"]["uid"] not in known]
    return sorted(identity(item) for item in remaining)


def uids_and_generations(objects: list[dict]) -> dict[tuple[str, str, str], tuple[str, int]]:
    """{(kind, namespace, name): (uid, generation)}."""
    return {
        (item["kind"], item["metadata"].get("namespace", ""), item["metadata"]["name"]): (
            item["metadata"]["uid"],
            item["metadata"].get("generation", 0),
        )
        for item in objects
    }
