"""What the SMS channel sent: the log backend's file, or a real HTTP gateway on a local port that records each text."""

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path


def texts_to(app, phone) -> list[str]:
    """Every SMS the log backend wrote to ``phone``, oldest first."""
    path = Path(app.config["SMS_LOG_FILE"])
    if not path.exists():
        return []
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        _at, to, text = line.split("\t", 2)
        if to == phone:
            found.append(text)
    return found


def code_in(text) -> str:
    """The six-digit code in an SMS text."""
    match = re.search(r"(?<!\d)(\d{6})(?!\d)", text)
    assert match, f"no code in {text!r}"
    return match.group(1)


def last_code(app, phone) -> str:
    texts = texts_to(app, phone)
    assert texts, f"no SMS to {phone}"
    return code_in(texts[-1])


class Gateway:
    """A real HTTP SMS gateway on a local port that answers with ``status`` and records what it got."""

    def __init__(self):
        self.received = []
        self.status = 200
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers["Content-Length"])
                gateway.received.append(json.loads(self.rfile.read(length)))
                self.send_response(gateway.status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/send"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def texts_to(self, phone) -> list[str]:
        return [body["text"] for body in self.received if body["to"] == phone]

    def close(self):
        self.server.shutdown()
        self.server.server_close()
