"""The baseline: a bare Flask JSON endpoint (no extensions, no database), served with the same gunicorn settings."""

from flask import Flask, jsonify, request

app = Flask(__name__)


@app.post("/bare")
def bare():
    body = request.get_json()
    return jsonify({"ok": True, "lines": len(body.get("lines", []))}), 201
