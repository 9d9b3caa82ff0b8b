"""Where Pinbang is and how to log in, printed by `make run` before the processes start and again once the web
server answers, so the URL and the logins are the last thing on the screen rather than scrolled away."""

import os
import signal
import sys
import time
import urllib.error
import urllib.request

from demo.seed import DEMO_LOGINS, DEMO_PASSWORD

STARTUP_WAIT_SECONDS = 120


def banner(port: str, heading: str) -> str:
    lines = ["", f"  {heading}", f"  Open http://127.0.0.1:{port}/   (Ctrl-C stops everything)"]
    lines.append(f"  Demo logins, password {DEMO_PASSWORD}:")
    lines += [f"    {role:<24} {phone}" for role, phone in DEMO_LOGINS]
    return "\n".join(lines + [""])


def web_answers(port: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def wait_then_announce(port: str) -> None:
    """Honcho stops every process when one ends, so after announcing this one waits for the signal to stop."""
    deadline = time.monotonic() + STARTUP_WAIT_SECONDS
    while not web_answers(port):
        if time.monotonic() > deadline:
            print(f"  The web server did not answer on port {port} within {STARTUP_WAIT_SECONDS} s: see web.1 above.")
            break
        time.sleep(0.5)
    else:
        print(banner(port, "Pinbang (拼帮) is ready."), flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        signal.pause()


if __name__ == "__main__":
    port = os.environ.get("PINBANG_PORT") or os.environ.get("PORT", "5000")
    if "--when-ready" in sys.argv:
        wait_then_announce(port)
    else:
        print(banner(port, "Pinbang (拼帮) is starting: web, Celery worker and beat on embedded defaults."))
