"""Local TCP ports for the servers tests and benchmarks start: a free one, and waiting for one to open or close."""

import socket
import time


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port, timeout=10.0, open_=True) -> bool:
    """Wait until something listens on 127.0.0.1:``port`` (or, with ``open_=False``, until nothing does); False if
    it has not happened within ``timeout`` seconds."""
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
