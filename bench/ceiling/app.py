"""The framework's ceiling, one route for each route the benchmark loads: bare
Flask answering from memory, with the bodies items-service answers (an item, a
page of 100 items), no I/O and no auditing. It parses what items-service parses
(the JSON body, the id, the query) and nothing more."""

from flask import Flask, jsonify, request

app = Flask(__name__)
app.json.sort_keys = False

PAGE_SIZE = 100
MOMENT = "2026-11-25T00:00:00.000000Z"


def item(item_id: int, name: str = "bench item", description: str = "created by the benchmark"):
    return {
        "id": item_id,
        "name": name,
        "description": description,
        "created_at": MOMENT,
        "updated_at": MOMENT,
    }


@app.post("/items")
def create_item():
    body = request.get_json()
    response = jsonify(item(1, body["name"].strip(), body.get("description", "")))
    response.status_code = 201
    response.headers["Location"] = "/items/1"
    return response


@app.get("/items")
def list_items():
    limit = int(request.args.get("limit", PAGE_SIZE))
    after = int(request.args.get("after", 0))
    response = jsonify([item(after + n) for n in range(1, limit + 1)])
    response.headers["Link"] = f'</items?limit={limit}&after={after + limit}>; rel="next"'
    return response


@app.get("/items/<int:item_id>")
def get_item(item_id: int):
    return jsonify(item(item_id))


@app.put("/items/<int:item_id>")
def replace_item(item_id: int):
    body = request.get_json()
    return jsonify(item(item_id, body["name"].strip(), body.get("description", "")))


@app.get("/healthz")
def healthz():
    return jsonify(status="ok")
