"""Fault-injection helpers: free ports, a private Redis server that a test may stop and start."""

import shutil
import socket
import subprocess
import time
from pathlib import Path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, timeout=10.0, open_=True):
    """Wait until something listens on ``port`` (or, with ``open_=False``, until nothing does)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                if open_:
                    return True
        except OSError:
            if not open_:
                return True
        time.sleep(0.05)
    return False


class PrivateRedis:
    """A redis-server of this test's own on a free 127.0.0.1 port; never the machine's shared one."""

    def __init__(self, folder: Path):
        self.port = free_port()
        self.folder = folder
        self.process = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.process = subprocess.Popen(
            [shutil.which("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.folder)],
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
