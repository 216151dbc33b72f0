"""The naive peer, the second baseline: the same routes, with the way of doing
them the outbox replaces. Each request opens its own database connection, makes
its change, and posts its audit event to audit-service synchronously, on a new
HTTP connection, before answering; no pool, no prepared statements, no batching.

Settings from the environment: DATABASE_URL, AUDIT_SERVICE_URL, AUDIT_TOKEN."""

import os
import uuid
from datetime import UTC, datetime

import psycopg2
import requests
from flask import Flask, g, jsonify, request

DATABASE_URL = os.environ.get("DATABASE_URL", "")
AUDIT_SERVICE_URL = os.environ.get("AUDIT_SERVICE_URL", "")
AUDIT_TOKEN = os.environ.get("AUDIT_TOKEN", "")

app = Flask(__name__)
app.json.sort_keys = False


def _item(row) -> dict:
    item_id, name, description, created_at, updated_at = row
    return {
        "id": item_id,
        "name": name,
        "description": description,
        "created_at": created_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "updated_at": updated_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
    }


def _query(sql: str, params: tuple) -> list:
    with psycopg2.connect(DATABASE_URL) as connection, connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    connection.close()
    return rows


@app.after_request
def audit(response):
    if request.path.startswith("/items"):
        action = {"POST": "create", "PUT": "update"}.get(request.method, "read")
        event = {
            "event_id": str(uuid.uuid4()),
            "occurred_at": datetime.now(UTC).isoformat(),
            "service": "naive-peer",
            "action": f"item.{action}",
            "resource_type": "item",
            "resource_id": g.get("resource_id"),
            "status_code": response.status_code,
            "request_id": uuid.uuid4().hex,
            "client_ip": request.remote_addr,
            "details": {},
        }
        requests.post(
            f"{AUDIT_SERVICE_URL}/events",
            json=event,
            headers={"Authorization": f"Bearer {AUDIT_TOKEN}"},
            timeout=5,
        ).raise_for_status()
    return response


@app.post("/items")
def create_item():
    body = request.get_json()
    [row] = _query(
        "INSERT INTO items (name, description) VALUES (%s, %s)"
        " RETURNING id, name, description, created_at, updated_at",
        (body["name"].strip(), body.get("description", "")),
    )
    g.resource_id = str(row[0])
    response = jsonify(_item(row))
    response.status_code = 201
    response.headers["Location"] = f"/items/{row[0]}"
    return response


@app.get("/items")
def list_items():
    limit = int(request.args.get("limit", 100))
    after = int(request.args.get("after", 0))
    rows = _query(
        "SELECT id, name, description, created_at, updated_at FROM items"
        " WHERE id > %s ORDER BY id LIMIT %s",
        (after, limit),
    )
    return jsonify([_item(row) for row in rows])


@app.get("/items/<int:item_id>")
def get_item(item_id: int):
    g.resource_id = str(item_id)
    rows = _query(
        "SELECT id, name, description, created_at, updated_at FROM items WHERE id = %s",
        (item_id,),
    )
    return jsonify(_item(rows[0])) if rows else (jsonify(error="not found"), 404)


@app.put("/items/<int:item_id>")
def replace_item(item_id: int):
    body = request.get_json()
    g.resource_id = str(item_id)
    rows = _query(
        "UPDATE items SET name = %s, description = %s, updated_at = now() WHERE id = %s"
        " RETURNING id, name, description, created_at, updated_at",
        (body["name"].strip(), body.get("description", ""), item_id),
    )
    return jsonify(_item(rows[0])) if rows else (jsonify(error="not found"), 404)


@app.get("/healthz")
def healthz():
    return jsonify(status="ok")
