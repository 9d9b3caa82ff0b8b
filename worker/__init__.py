"""The Celery app: `celery -A worker worker` and `celery -A worker beat` find it here.

Importing this module reads config.py only; the Flask app is built lazily by the first task
that runs in a worker process, or bound by create_app() in the web process.
"""

import sys
import time
from pathlib import Path

# `celery -A worker` puts the project folder on sys.path only while it imports this module,
# then removes that entry; tasks import the project's modules later, so add our own entry.
PROJECT_ROOT = str(Path(__file__).resolve().parent.parent)
sys.path.append(PROJECT_ROOT)

from celery import Celery, Task  # noqa: E402

from config import load_config  # noqa: E402
from worker.schedule import BEAT_SCHEDULE  # noqa: E402

_flask_app = None


def celery_settings(config) -> dict:
    """Broker and serialization settings: Redis when REDIS_URL is set, else kombu's filesystem transport."""
    get = config.get if isinstance(config, dict) else lambda key, default=None: getattr(config, key, default)
    instance = Path(get("INSTANCE_PATH"))
    settings = {
        "task_default_queue": get("CELERY_QUEUE", "pinbang"),
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "task_ignore_result": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "worker_hijack_root_logger": False,
        "broker_connection_retry_on_startup": True,
        "timezone": "UTC",
        "enable_utc": True,
        "beat_schedule": BEAT_SCHEDULE,
        "beat_schedule_filename": str(instance / "celerybeat-schedule"),
        "task_always_eager": bool(get("CELERY_ALWAYS_EAGER", False)),
    }
    redis_url = get("REDIS_URL")
    if redis_url:
        settings["broker_url"] = redis_url
        settings["broker_transport_options"] = {"visibility_timeout": 3600, "socket_connect_timeout": 2, "socket_timeout": 5}
    else:
        folder = Path(get("BROKER_DIR") or instance / "broker")
        for sub in ("processed", "control"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        settings["broker_url"] = "filesystem://"
        # The same folder in and out, or messages pile up and never run.
        settings["broker_transport_options"] = {
            "data_folder_in": str(folder),
            "data_folder_out": str(folder),
            "processed_folder": str(folder / "processed"),
            "control_folder": str(folder / "control"),
            "store_processed": False,
        }
    return settings


class FlaskTask(Task):
    """Runs every task inside a Flask app context."""

    abstract = True

    def __call__(self, *args, **kwargs):
        with flask_app().app_context():
            return self.run(*args, **kwargs)


def flask_app():
    global _flask_app
    if _flask_app is None:
        from app import create_app

        create_app()
    return _flask_app


def celery_init_app(app):
    """Bind the Flask app and take the broker settings from its config."""
    global _flask_app
    _flask_app = app
    settings = celery_settings(app.config)
    if celery.conf.broker_url != settings["broker_url"]:
        _drop_broker_connections()
    celery.conf.update(settings)
    app.extensions["celery"] = celery
    return celery


def _drop_broker_connections():
    """Forget pooled connections so a new broker setting (tests switch brokers) takes effect."""
    from kombu import pools

    global _broker_down_until
    _broker_down_until = 0.0

    # kombu keeps its pools in global registries keyed by broker URL; closing only ours left a closed
    # pool registered, which failed with "Acquire on closed pool" when a test switched back to that broker.
    pools.reset()
    celery._pool = None
    celery.amqp._producer_pool = None


BROKER_BACKOFF_SECONDS = 15.0
_broker_down_until = 0.0


def send_task_safely(task, *args):
    """Queue a task without ever failing the caller: if the broker is down, beat's periodic run picks the work up.

    Reaching a dead broker takes seconds; after a failure this process stops trying for
    BROKER_BACKOFF_SECONDS, so buyers' requests stay fast while Redis is down.
    """
    global _broker_down_until
    if time.monotonic() < _broker_down_until:
        return False
    try:
        task.apply_async(args=args, retry=False)
        return True
    except Exception:  # noqa: BLE001 - any broker failure must not lose the request that triggered it
        _broker_down_until = time.monotonic() + BROKER_BACKOFF_SECONDS
        if _flask_app is not None:
            _flask_app.logger.warning("Broker unavailable; %s will run on the next periodic sweep", task.name, exc_info=True)
        return False


celery = Celery("pinbang", task_cls=FlaskTask, include=["worker.tasks"])
celery.conf.update(celery_settings(load_config()))
# The tasks are shared_task proxies: without this, a thread other than the one that created the app (a request in the
# threaded development server, a gthread worker) sends through Celery's unconfigured default app and the message is lost.
celery.set_default()
app = celery
