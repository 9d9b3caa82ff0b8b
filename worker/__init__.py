"""The Celery app, bound to a Flask app by create_app(); the worker's entry that builds one is make_celery.py.

The package never imports the Flask app: below the roof nothing does. Importing it reads config.py only.
"""

import logging
from pathlib import Path

from celery import Celery, Task
from celery.signals import after_setup_logger, task_success
from kombu import pools

import after_commit
from config import load_config
from worker.schedule import BEAT_SCHEDULE

_flask_app = None

# Beat's ticks and every task's "received" and "succeeded" lines: thousands an hour that say nothing happened.
ROUTINE_LOGGERS = ("celery.app.trace", "celery.worker.strategy", "celery.beat")
log = logging.getLogger("pinbang.worker")


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
    """Runs every task inside the bound Flask app's context."""

    abstract = True

    def __call__(self, *args, **kwargs):
        if _flask_app is None:
            raise RuntimeError("No Flask app is bound to the worker: start it with `celery -A make_celery worker`.")
        with _flask_app.app_context():
            return self.run(*args, **kwargs)


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
    # kombu keeps its pools in global registries keyed by broker URL; closing only ours left a closed
    # pool registered, which failed with "Acquire on closed pool" when a test switched back to that broker.
    pools.reset()
    celery._pool = None
    celery.amqp._producer_pool = None
    after_commit.broker_reachable_again()


celery = Celery("pinbang", task_cls=FlaskTask, include=["worker.tasks"])
celery.conf.update(celery_settings(load_config()))
# The tasks are shared_task proxies: without this, a thread other than the one that created the app (a request in the
# threaded development server, a gthread worker) sends through Celery's unconfigured default app and the message is lost.
celery.set_default()


@after_setup_logger.connect
def quiet_routine_logs(loglevel=logging.INFO, **_kwargs):
    """At INFO a task shows up only when it did something (below); DEBUG still shows every tick."""
    level = logging.getLevelName(loglevel) if isinstance(loglevel, str) else loglevel
    if level >= logging.INFO:
        for name in ROUTINE_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)


@task_success.connect
def log_work_done(sender=None, result=None, **_kwargs):
    """A task's result is what it did (messages sent, campaigns closed, an outcome); nothing is not worth a line."""
    if result:
        log.info("%s: %s", sender.name.rsplit(".", 1)[-1], result)
