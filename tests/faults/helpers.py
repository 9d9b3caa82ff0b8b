"""Fault-injection helpers: a private Redis server that a test may stop and start; a relay in front of PostgreSQL
that a test may cut and restore, or that loses the answer to one COMMIT; the web server under test, gunicorn."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

from ports import free_port, wait_for_port
from worker_process import ROOT


class PrivateRedis:
    """A redis-server of this test's own on a free 127.0.0.1 port; never the machine's shared one."""

    def __init__(self, folder: Path):
        self.port = free_port()
        self.folder = folder
        self.process = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.process = subprocess.Popen(
            [
                shutil.which("redis-server"),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        assert wait_for_port(self.port), "the private redis-server did not start"

    def stop(self):
        """Stop it hard, as a crash or an outage would (whatever it held is lost)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        assert wait_for_port(self.port, open_=False)


class DatabaseProxy:
    """A TCP relay to PostgreSQL on a free 127.0.0.1 port, for an app whose DATABASE_URL names that port.

    ``cut()`` is PostgreSQL stopping, as the app sees it: every connection drops and new ones are refused;
    ``restore()`` starts it again. ``lose_next_commit_answer()`` lets the next COMMIT reach PostgreSQL, waits for its
    answer and drops the connection instead of relaying it: the transaction is saved, and the app cannot know.
    The machine's PostgreSQL itself is shared, so it is never stopped for real.
    """

    # psycopg sends a commit as a simple query: 'Q', the length (4 + 7), "COMMIT" and its NUL.
    COMMIT_QUERY = b"Q\x00\x00\x00\x0bCOMMIT\x00"

    def __init__(self, target_port, target_host="127.0.0.1"):
        self.port = free_port()
        self.target = (target_host, target_port)
        self.commit_answers_lost = 0
        self._listener = None
        self._pairs = set()
        self._lock = threading.Lock()
        self._lose_commit_answer = False

    def url(self, database_url):
        """``database_url`` through this relay."""
        from urllib.parse import urlsplit, urlunsplit

        parts = urlsplit(database_url)
        auth = parts.netloc.rpartition("@")[0]
        return urlunsplit(parts._replace(netloc=f"{auth}@127.0.0.1:{self.port}" if auth else f"127.0.0.1:{self.port}"))

    def start(self):
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self):
        """PostgreSQL is gone: close the port and every open connection."""
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            pairs, self._pairs = list(self._pairs), set()
        for pair in pairs:
            _close(*pair)
        assert wait_for_port(self.port, open_=False)

    def restore(self):
        self.start()

    def lose_next_commit_answer(self):
        with self._lock:
            self._lose_commit_answer = True

    def _accept(self, listener):
        while True:
            try:
                client, _address = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target, timeout=5)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            pair = (client, server)
            with self._lock:
                self._pairs.add(pair)
            losing = threading.Event()
            threading.Thread(target=self._to_server, args=(pair, losing), daemon=True).start()
            threading.Thread(target=self._to_client, args=(pair, losing), daemon=True).start()

    def _to_server(self, pair, losing):
        client, server = pair
        try:
            while data := client.recv(65536):
                if self.COMMIT_QUERY in data:
                    with self._lock:
                        if self._lose_commit_answer:
                            self._lose_commit_answer = False
                            losing.set()
                server.sendall(data)
        except OSError:
            pass
        self._drop(pair)

    def _to_client(self, pair, losing):
        client, server = pair
        try:
            while data := server.recv(65536):
                if losing.is_set():
                    # The answer to the COMMIT: PostgreSQL has saved the transaction; the app never hears so.
                    self.commit_answers_lost += 1
                    break
                client.sendall(data)
        except OSError:
            pass
        self._drop(pair)

    def _drop(self, pair):
        with self._lock:
            self._pairs.discard(pair)
        _close(*pair)


def _close(*sockets):
    for sock in sockets:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()


@contextmanager
def gunicorn(env, workers=2, log_path=None):
    """The web server as production runs it (``gunicorn -w N wsgi:app``, sync workers) with ``env``; yields its
    base URL; stops it (TERM, then KILL) afterwards."""
    port = free_port()
    command = [str(Path(sys.executable).parent / "gunicorn"), "-w", str(workers), "-b", f"127.0.0.1:{port}"]
    command += ["--timeout", "60", "--graceful-timeout", "5", "wsgi:app"]
    log = open(log_path, "w") if log_path else subprocess.DEVNULL
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        assert wait_for_port(port, timeout=30), "gunicorn did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if log_path:
            log.close()
