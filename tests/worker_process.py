"""Start a real Celery worker (and beat) as a separate process for tests."""

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def process_env(database_url, redis_url=None, **extra):
    env = dict(os.environ)
    env.update({"DATABASE_URL": database_url, "PINBANG_ENV": "testing"})
    env.pop("PYTHONPATH", None)
    if redis_url:
        env["REDIS_URL"] = redis_url
    else:
        env.pop("REDIS_URL", None)
    env.update({k: str(v) for k, v in extra.items()})
    return env


@contextmanager
def celery_process(kind, database_url, redis_url=None, log_path=None, loglevel="INFO", **extra):
    """``kind`` is "worker" or "beat"; yields the Popen; stops it (TERM, then KILL) afterwards.

    At INFO (as the Procfile runs them) beat's ticks and each task's "received"/"succeeded" lines stay out of the log;
    a test that counts them asks for DEBUG."""
    # The venv's `celery` script, as the Procfile runs it (python -m celery would mask sys.path problems).
    args = [str(Path(sys.executable).parent / "celery"), "-A", "make_celery", kind, "--loglevel", loglevel]
    if kind == "worker":
        args += ["--concurrency", "1", "--without-gossip", "--without-mingle", "--without-heartbeat"]
    log_path = log_path or Path(os.environ["INSTANCE_PATH"]) / f"{kind}-{time.time_ns()}.log"
    log = open(log_path, "w")
    process = subprocess.Popen(
        args, cwd=ROOT, env=process_env(database_url, redis_url, **extra), stdout=log, stderr=subprocess.STDOUT
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()


def wait_for(predicate, timeout=30.0, interval=0.2):
    """Poll ``predicate`` until it is truthy; return its value, or the last falsy one after ``timeout``."""
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = predicate()
    return value


def beat_resumes_with(instance_path, due_in, names=("close-due-campaigns", "dispatch-notifications")):
    """Leave ``instance_path/celerybeat-schedule`` as a beat that ran earlier would: the named jobs of the real
    schedule (worker/schedule.py) next due ``due_in`` seconds from now. A beat started there resumes from that file,
    as after a restart, so a test waits seconds for a sweep instead of a whole first interval (30 s for closing)."""
    from celery.beat import PersistentScheduler

    from worker import celery, celery_settings

    filename = celery_settings({"INSTANCE_PATH": str(instance_path)})["beat_schedule_filename"]
    scheduler = PersistentScheduler(app=celery, schedule_filename=filename)
    try:
        now = celery.now()
        for name in names:
            entry = scheduler.schedule[name]
            entry.last_run_at = now - entry.schedule.run_every + timedelta(seconds=due_in)
        scheduler.sync()
    finally:
        scheduler.close()


def count_lines(path, *texts):
    """How many lines of the log at ``path`` contain every one of ``texts`` (0 while the file does not exist)."""
    path = Path(path)
    lines = path.read_text(errors="replace").splitlines() if path.exists() else []
    return sum(all(text in line for text in texts) for line in lines)


def kill_process_tree(pid):
    """SIGKILL ``pid`` and every process below it (a Celery worker and its pool's children), as a crash would: none
    of them gets to finish what it was doing."""
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    doomed, queue = [], [pid]
    while queue:
        current = queue.pop()
        doomed.append(current)
        queue.extend(children.get(current, []))
    for target in reversed(doomed):
        try:
            os.kill(target, signal.SIGKILL)
        except ProcessLookupError:
            pass
