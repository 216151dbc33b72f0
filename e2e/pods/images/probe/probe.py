#!/usr/bin/env python3
"""Try one connection from this pod and print its outcome as one JSON line:

    probe tcp HOST PORT          a TCP connection
    probe http URL               an HTTP GET (any status counts as reached)
    probe postgres CONNINFO      psql runs `SELECT 1` (a libpq URL or key=value string)
    probe dns NAME               the name's addresses
    probe wait                   prints that it waits, then exits 0 on SIGTERM or SIGINT (the
                                 image's CMD)

{"check": ..., "target": ..., "outcome": ..., "detail": ..., "seconds": ...}; outcome is
"ok", "refused", "timeout" or "error". Exit status 0 for ok, 1 otherwise. --timeout
(default 5 s) bounds each attempt.
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request


def tcp(host: str, port: int, timeout: float) -> tuple[str, str]:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return "ok", "connected"
    except ConnectionRefusedError as error:
        return "refused", str(error)
    except TimeoutError as error:
        return "timeout", str(error) or "timed out"
    except OSError as error:
        return "error", str(error)


def http(url: str, timeout: float) -> tuple[str, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (test URLs)
            return "ok", f"HTTP {response.status}"
    except urllib.error.HTTPError as error:
        return "ok", f"HTTP {error.code}"
    except urllib.error.URLError as error:
        reason = error.reason
        if isinstance(reason, ConnectionRefusedError):
            return "refused", str(reason)
        if isinstance(reason, TimeoutError):
            return "timeout", str(reason) or "timed out"
        return "error", str(reason)
    except TimeoutError as error:
        return "timeout", str(error) or "timed out"
    except OSError as error:
        return "error", str(error)


def postgres(conninfo: str, timeout: float) -> tuple[str, str]:
    env = {**os.environ, "PGCONNECT_TIMEOUT": str(max(1, int(timeout)))}
    command = ["psql", "--no-psqlrc", "--tuples-only", "--no-align", "--command=SELECT 1", conninfo]
    try:
        done = subprocess.run(  # noqa: S603 (a fixed command)
            command, env=env, capture_output=True, text=True, timeout=timeout + 5, check=False
        )
    except subprocess.TimeoutExpired:
        return "timeout", "psql did not finish"
    # psql's first line names the failure ("... failed: Connection refused").
    message = (done.stderr.strip() or done.stdout.strip()).splitlines()
    detail = message[0] if message else ""
    if done.returncode == 0:
        return "ok", detail
    if "Connection refused" in done.stderr:
        return "refused", detail
    if "timeout expired" in done.stderr or "timed out" in done.stderr:
        return "timeout", detail
    return "error", detail


def dns(name: str, timeout: float) -> tuple[str, str]:
    socket.setdefaulttimeout(timeout)
    try:
        addresses = sorted({info[4][0] for info in socket.getaddrinfo(name, None)})
        return "ok", " ".join(addresses)
    except socket.gaierror as error:
        return "error", str(error)
    except TimeoutError as error:
        return "timeout", str(error) or "timed out"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="probe", description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=5.0)
    checks = parser.add_subparsers(dest="check", required=True)
    tcp_parser = checks.add_parser("tcp")
    tcp_parser.add_argument("host")
    tcp_parser.add_argument("port", type=int)
    checks.add_parser("http").add_argument("url")
    checks.add_parser("postgres").add_argument("conninfo")
    checks.add_parser("dns").add_argument("name")
    checks.add_parser("wait")
    args = parser.parse_args(argv)
    if args.check == "wait":
        for signal_number in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signal_number, lambda *_: sys.exit(0))
        # From here on a stop is immediate.
        print(json.dumps({"check": "wait", "outcome": "waiting"}), flush=True)
        while True:
            signal.pause()

    started = time.monotonic()
    if args.check == "tcp":
        target = f"{args.host}:{args.port}"
        outcome, detail = tcp(args.host, args.port, args.timeout)
    elif args.check == "http":
        target = args.url
        outcome, detail = http(args.url, args.timeout)
    elif args.check == "postgres":
        # The password, if the conninfo holds one, is not printed.
        target = "postgres"
        outcome, detail = postgres(args.conninfo, args.timeout)
    else:
        target = args.name
        outcome, detail = dns(args.name, args.timeout)
    result = {
        "check": args.check,
        "target": target,
        "outcome": outcome,
        "detail": detail,
        "seconds": round(time.monotonic() - started, 3),
    }
    print(json.dumps(result), flush=True)
    return 0 if outcome == "ok" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
