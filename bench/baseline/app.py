"""The framework's ceiling: a bare Flask endpoint that parses the body POST /items
takes and answers 201 with an item-shaped body, without any I/O."""

from flask import Flask, jsonify, request

app = Flask(__name__)
app.json.sort_keys = False


@app.post("/items")
def create_item():
    body = request.get_json()
    response = jsonify(
        id=1,
        name=body["name"].strip(),
        description=body.get("description", ""),
        created_at="2026-11-25T00:00:00Z",
        updated_at="2026-11-25T00:00:00Z",
    )
    response.status_code = 201
    response.headers["Location"] = "/items/1"
    return response


@app.get("/healthz")
def healthz():
    return jsonify(status="ok")
