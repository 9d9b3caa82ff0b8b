"""The baseline for a page: bench/orders/bare.py's bare Flask app (no extensions, no database), with a GET beside its
POST, served with the same gunicorn settings as the app."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "orders"))

from bare import app  # noqa: E402 - bench/orders/bare.py


@app.get("/bare")
def bare_page():
    return "<!doctype html><title>bare</title><p>ok</p>"
