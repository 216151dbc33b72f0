"""Which connections NetworkPolicies allow, by their own semantics (the expected side of
the real-node tier's matrix), and the connections a pod really makes (the observed side:
a script run by `kubectl exec` with the pod's python3, every stand-in and service image
has one).

Expected: a connection from pod S to pod D on port P is allowed when S's egress allows
it (no policy of S's namespace selects S for Egress, or one of those has a rule whose
peers match D and whose ports match P) and D's ingress allows it (the same, mirrored).
An address that is no pod (the API server) matches only ipBlock peers and has no ingress
policies. The node's own traffic is not subject to the policies (the kubelet's probes)."""

import ipaddress
import json
from dataclasses import dataclass, field

# The connection a source makes to a destination: a TCP connect, or a DNS query over UDP
# to the pod's resolver (its resolv.conf nameserver), for `name`.
TCP = "TCP"
UDP = "UDP"
# Seconds a connection may take before it counts as blocked ("timed out"): room for two
# retransmitted SYNs (1 s, then 2 s later), which a first connection here sometimes needs.
CONNECT_TIMEOUT = 5.0


@dataclass(frozen=True)
class Endpoint:
    """A pod (labels, its namespace's labels, its named ports) or a bare address."""

    name: str
    address: str
    namespace: str | None = None  # None: not a pod
    labels: dict = field(default_factory=dict, hash=False, compare=False)
    namespace_labels: dict = field(default_factory=dict, hash=False, compare=False)
    named_ports: dict = field(default_factory=dict, hash=False, compare=False)

    @property
    def is_pod(self) -> bool:
        return self.namespace is not None


def selects(selector: dict | None, labels: dict) -> bool:
    """A Kubernetes label selector (an empty one selects everything)."""
    selector = selector or {}
    if any(labels.get(key) != value for key, value in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values")
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def peer_matches(peer: dict, policy_namespace: str, other: Endpoint) -> bool:
    if "ipBlock" in peer:
        address = ipaddress.ip_address(other.address)
        block = peer["ipBlock"]
        return address in ipaddress.ip_network(block["cidr"]) and not any(
            address in ipaddress.ip_network(cidr) for cidr in block.get("except") or []
        )
    if not other.is_pod:
        return False
    if "namespaceSelector" in peer:
        in_namespace = selects(peer["namespaceSelector"], other.namespace_labels)
    else:
        in_namespace = other.namespace == policy_namespace
    return in_namespace and selects(peer.get("podSelector"), other.labels)


def port_matches(ports: list[dict] | None, destination: Endpoint, port: int, protocol: str) -> bool:
    if not ports:
        return True
    for entry in ports:
        if entry.get("protocol", TCP) != protocol:
            continue
        wanted = entry.get("port")
        if wanted is None:
            return True
        if isinstance(wanted, str):
            wanted = destination.named_ports.get(wanted)
        if wanted == port or (
            wanted is not None and wanted <= port <= entry.get("endPort", wanted)
        ):
            return True
    return False


def _side(
    policies: list[dict], pod: Endpoint, other: Endpoint, port_owner: Endpoint, port, protocol, kind
) -> bool:
    """Whether the policies of `pod`'s namespace let it talk to `other` in direction
    `kind` (Egress: pod is the sender; Ingress: pod is the receiver)."""
    selecting = [
        policy
        for policy in policies
        if policy["metadata"]["namespace"] == pod.namespace
        and kind in policy["spec"].get("policyTypes", ["Ingress"])
        and selects(policy["spec"].get("podSelector"), pod.labels)
    ]
    if not selecting:
        return True
    peers_key, rules_key = ("to", "egress") if kind == "Egress" else ("from", "ingress")
    return any(
        (
            not rule.get(peers_key)
            or any(
                peer_matches(peer, policy["metadata"]["namespace"], other)
                for peer in rule[peers_key]
            )
        )
        and port_matches(rule.get("ports"), port_owner, port, protocol)
        for policy in selecting
        for rule in policy["spec"].get(rules_key) or []
    )


def expected(
    policies: list[dict], source: Endpoint, destination: Endpoint, port: int, protocol: str
) -> tuple[bool, str]:
    """(allowed, which end blocks it) by the policies' semantics."""
    if not source.is_pod:
        return True, "the node's own traffic"
    blocked = []
    if not _side(policies, source, destination, destination, port, protocol, "Egress"):
        blocked.append(f"egress of {source.name}")
    if destination.is_pod and not _side(
        policies, destination, source, destination, port, protocol, "Ingress"
    ):
        blocked.append(f"ingress of {destination.name}")
    return not blocked, " and ".join(blocked)


# Run in a pod by `python3 -c CONNECT_SCRIPT CHECKS`: every check at once, each bounded
# by its timeout; prints one JSON list of outcomes (ok, refused, timeout, error), the
# classification of the probe image's `probe` tool (e2e/pods/images/probe/probe.py).
CONNECT_SCRIPT = r"""
import json, random, socket, struct, sys, time
from concurrent.futures import ThreadPoolExecutor

def tcp(check):
    try:
        with socket.create_connection((check["host"], check["port"]), timeout=check["timeout"]):
            return "ok", "connected"
    except ConnectionRefusedError as error:
        return "refused", str(error)
    except TimeoutError as error:
        return "timeout", str(error) or "timed out"
    except OSError as error:
        return "error", str(error)

def dns(check):
    with open("/etc/resolv.conf") as resolv:
        server = next(line.split()[1] for line in resolv if line.startswith("nameserver"))
    ident = random.randrange(65536)
    question = b"".join(bytes([len(part)]) + part.encode() for part in check["name"].split("."))
    header = struct.pack(">HHHHHH", ident, 0x0100, 1, 0, 0, 0)
    query = header + question + b"\0" + struct.pack(">HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.settimeout(check["timeout"])
        try:
            udp.connect((server, check["port"]))
            udp.send(query)
            while True:
                answer = udp.recv(4096)
                if answer[:2] == query[:2]:
                    count = struct.unpack(">H", answer[6:8])[0]
                    return "ok", f"answered by {server}: {count} answers"
        except ConnectionRefusedError as error:
            return "refused", str(error)
        except TimeoutError as error:
            return "timeout", str(error) or "timed out"
        except OSError as error:
            return "error", str(error)

def run(check):
    started = time.monotonic()
    outcome, detail = (tcp if check["protocol"] == "TCP" else dns)(check)
    return {"outcome": outcome, "detail": detail, "seconds": round(time.monotonic() - started, 2)}

checks = json.loads(sys.argv[1])
with ThreadPoolExecutor(max(1, len(checks))) as pool:
    print(json.dumps(list(pool.map(run, checks))))
"""


@dataclass(frozen=True)
class Check:
    destination: Endpoint
    port: int
    protocol: str = TCP
    dns_name: str = ""  # for a UDP check: the name asked

    def as_json(self) -> dict:
        return {
            "host": self.destination.address,
            "port": self.port,
            "protocol": self.protocol,
            "name": self.dns_name,
            "timeout": CONNECT_TIMEOUT,
        }


def script_arguments(checks: list[Check]) -> list[str]:
    return ["python3", "-c", CONNECT_SCRIPT, json.dumps([check.as_json() for check in checks])]
