"""A real HTTP SMS gateway on a free 127.0.0.1 port that deduplicates by message id, as real ones do.

It keeps every message id it delivered: a repeat (the same ``Idempotency-Key``) is answered 200 and not delivered
again. It can be told to deliver the first ``fail_after_delivering`` requests of each message and then answer 500
(the gateway that "fails" after the text went out), and to run ``before_answer`` between delivering and answering
(a test kills the dispatcher there, or holds it there).
"""

import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class DeduplicatingGateway:
    def __init__(self):
        self.fail_after_delivering = 0
        self.before_answer = None  # callable(message_id), run after delivering and before answering
        self.requests = []  # (Idempotency-Key header, JSON body) of every request, in arrival order
        self.delivered = []  # the JSON body of each text that reached a phone
        self._tries = Counter()
        self._lock = threading.Lock()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                key = self.headers.get("Idempotency-Key")
                with gateway._lock:
                    gateway.requests.append((key, body))
                    gateway._tries[key] += 1
                    tries = gateway._tries[key]
                    if key is None or tries == 1:
                        gateway.delivered.append(body)
                if gateway.before_answer is not None:
                    gateway.before_answer(key)
                self.send_response(500 if tries <= gateway.fail_after_delivering else 200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/send"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def delivered_to(self, phone):
        return [body for body in self.delivered if body["to"] == phone]

    def keys(self):
        """How many requests each message id came with."""
        with self._lock:
            return Counter(key for key, _body in self.requests)

    def close(self):
        self.server.shutdown()
        self.server.server_close()
