import pytest

from notifications import fanout


@pytest.fixture
def kill_worker(monkeypatch):
    """kill_worker(name, call): fanout.<name> raises on its ``call``-th call, as a worker killed mid-way; returns a
    function that puts the real one back, for the worker that finishes the job."""

    def kill(name, call):
        real, calls = getattr(fanout, name), []

        def dies(*args):
            calls.append(args)
            if len(calls) == call:
                raise RuntimeError("worker killed")
            return real(*args)

        monkeypatch.setattr(fanout, name, dies)
        return lambda: monkeypatch.setattr(fanout, name, real)

    return kill
