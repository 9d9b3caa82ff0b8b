"""Fault-injection helpers: a private Redis server that a test may stop and start."""

import shutil
import subprocess
from pathlib import Path

from ports import free_port, wait_for_port


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
