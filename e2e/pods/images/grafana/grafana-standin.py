"""NOT GRAFANA: the grafana/grafana stand-in of the real-node e2e tier (see the Dockerfile).

Serves what the program's Grafana pod and the tier's tests use:
    GET /api/health                      200 {"database": "ok", ...}, no login (the probes)
    GET /api/datasources                 the provisioned datasources      } the admin only
    GET /api/search                      the provisioned dashboards       } (basic auth),
    GET /api/dashboards/uid/<uid>        one dashboard, as provisioned    } else 401
Provisioning (GF_PATHS_PROVISIONING/datasources/*.yml, dashboards/*.yml and the
dashboard files their providers name) is read once at start; a file that does not parse
stops the server, as it stops Grafana.
"""

import hmac
import json
import logging
import os
import signal
import sys
import threading
from base64 import b64decode
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

VERSION = "11.6.16"
log = logging.getLogger("grafana-standin")


def setting(name: str, default: str = "") -> str:
    """GF_<NAME>, or the content of the file GF_<NAME>__FILE names (trimmed, as Grafana does)."""
    file_name = os.environ.get(f"{name}__FILE")
    if file_name:
        return Path(file_name).read_text(encoding="utf-8").strip()
    return os.environ.get(name, default)


def load_yaml_files(directory: Path) -> list[dict]:
    files = sorted([*directory.glob("*.yml"), *directory.glob("*.yaml")])
    return [yaml.safe_load(path.read_text(encoding="utf-8")) or {} for path in files]


def provisioned(provisioning: Path) -> tuple[list[dict], list[dict]]:
    """The datasources and the dashboards (each with its provider's folder)."""
    datasources = []
    for document in load_yaml_files(provisioning / "datasources"):
        datasources.extend(document.get("datasources") or [])
    dashboards = []
    for document in load_yaml_files(provisioning / "dashboards"):
        for provider in document.get("providers") or []:
            path = Path(provider["options"]["path"])
            for file in sorted(path.rglob("*.json")):
                dashboard = json.loads(file.read_text(encoding="utf-8"))
                dashboards.append({"dashboard": dashboard, "folder": provider.get("folder", "")})
    return datasources, dashboards


class StandIn:
    def __init__(self, user: str, password: str, provisioning: Path):
        self.user = user
        self.password = password
        self.datasources, self.dashboards = provisioned(provisioning)

    def authorised(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return hmac.compare_digest(user.encode(), self.user.encode()) and hmac.compare_digest(
            password.encode(), self.password.encode()
        )

    def answer(self, path: str, authorization: str | None) -> tuple[int, object]:
        if path == "/api/health":
            return 200, {
                "commit": "stand-in",
                "database": "ok",
                "version": VERSION,
                "standIn": "not Grafana: e2e/pods/images/grafana",
            }
        if not path.startswith("/api/"):
            return 404, {"message": "Not found"}
        if not self.authorised(authorization):
            return 401, {"message": "Invalid username or password"}
        if path == "/api/datasources":
            return 200, [
                {key: source.get(key) for key in ("uid", "name", "type", "access", "url")}
                | {"id": index, "isDefault": bool(source.get("isDefault"))}
                for index, source in enumerate(self.datasources, start=1)
            ]
        if path == "/api/search":
            return 200, [
                {
                    "uid": entry["dashboard"].get("uid"),
                    "title": entry["dashboard"].get("title"),
                    "type": "dash-db",
                    "folderTitle": entry["folder"],
                }
                for entry in self.dashboards
            ]
        prefix = "/api/dashboards/uid/"
        if path.startswith(prefix):
            uid = path[len(prefix) :]
            for entry in self.dashboards:
                if entry["dashboard"].get("uid") == uid:
                    meta = {"folderTitle": entry["folder"], "provisioned": True}
                    return 200, {"dashboard": entry["dashboard"], "meta": meta}
            return 404, {"message": "Dashboard not found"}
        return 404, {"message": "Not found"}


def handler_for(stand_in: StandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "grafana-standin"

        def do_GET(self):  # noqa: N802 (http.server's name)
            path = self.path.split("?", 1)[0]
            status, body = stand_in.answer(path, self.headers["Authorization"])
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format, *args):  # noqa: A002 (http.server's signature)
            log.info("logger=context %s", format % args)

    return Handler


def main() -> int:
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s")
    # Grafana creates its log directory and needs its data directory writable.
    Path(os.environ["GF_PATHS_LOGS"]).mkdir(parents=True, exist_ok=True)
    data = Path(os.environ["GF_PATHS_DATA"])
    if not os.access(data, os.W_OK):
        log.error("level=error msg=%r", f"{data} is not writable")
        return 1
    try:
        stand_in = StandIn(
            setting("GF_SECURITY_ADMIN_USER", "admin"),
            setting("GF_SECURITY_ADMIN_PASSWORD", "admin"),
            Path(os.environ["GF_PATHS_PROVISIONING"]),
        )
    except (OSError, ValueError, KeyError, TypeError, yaml.YAMLError) as error:
        log.error("level=error msg=%r", f"provisioning failed: {error}")
        return 1
    port = int(os.environ.get("GF_SERVER_HTTP_PORT", "3000"))
    server = ThreadingHTTPServer(("", port), handler_for(stand_in))
    # SIGTERM (the pod stopping): finish, then exit 0.
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    log.info(
        "level=info msg=%r datasources=%d dashboards=%d port=%d",
        "grafana stand-in (not Grafana) serving",
        len(stand_in.datasources),
        len(stand_in.dashboards),
        port,
    )
    server.serve_forever()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
