"""A stand-in for `kubectl` against a cluster this machine does not have, for running
.github/scripts/assignment-flow.sh: the postgres pod's psql is the real psql on the
test database (FAKE_KUBECTL_DATABASE_URL), and the cluster's network answers as
FAKE_KUBECTL_NETWORK says (`enforced`: the NetworkPolicies deny what they must;
`open`: everything connects).
Every call is appended to FAKE_KUBECTL_LOG, one JSON list per line.

    python fake_kubectl.py [--context C] [--namespace N] ARGS...
"""

import json
import os
import sys

POSTGRES_POD = "pod/postgres-0"
AUDIT_SERVICE_IP = "10.96.0.81"
# What `timeout` exits with when it ends a connection the CNI drops.
TIMED_OUT = 124


def without_global_flags(args: list[str]) -> list[str]:
    rest = []
    iterator = iter(args)
    for arg in iterator:
        if arg in ("--context", "--namespace"):
            next(iterator)
        else:
            rest.append(arg)
    return rest


def psql(command: list[str]) -> None:
    database = os.environ["FAKE_KUBECTL_DATABASE_URL"]
    real = ["psql", *(database if arg == "itemsdb" else arg for arg in command[1:])]
    os.execvp("psql", real)  # noqa: S606 (the real psql, with the script's own arguments)


def exec_in(target: str, command: list[str]) -> int:
    network = os.environ["FAKE_KUBECTL_NETWORK"]
    if target == POSTGRES_POD and command[0] == "psql":
        psql(command)
    if target == POSTGRES_POD and command[:2] == ["timeout", "5"]:
        return TIMED_OUT if network == "enforced" else 0
    if target == "deploy/items-service" and command[0] == "python":
        return 0
    print(f"fake kubectl: no answer for exec in {target}: {command}", file=sys.stderr)
    return 2


def main(args: list[str]) -> int:
    with open(os.environ["FAKE_KUBECTL_LOG"], "a", encoding="utf-8") as log:
        log.write(json.dumps(args) + "\n")
    args = without_global_flags(args)
    if args[:2] == ["get", "pod"]:
        print(POSTGRES_POD)
        return 0
    if args[:3] == ["get", "service", "audit-service"]:
        print(AUDIT_SERVICE_IP)
        return 0
    if args[0] == "exec":
        separator = args.index("--")
        return exec_in(args[1], args[separator + 1 :])
    print(f"fake kubectl: no answer for {args}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
