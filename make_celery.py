"""The worker's entry, on the roof: `celery -A make_celery worker` and `celery -A make_celery beat` build the app here."""

import sys
from pathlib import Path

# `celery -A make_celery` puts the project folder on sys.path only while it imports this module, then removes that
# entry; Celery imports the task modules later, so keep the folder on the path.
sys.path.append(str(Path(__file__).resolve().parent))

from app import create_app  # noqa: E402

flask_app = create_app()
celery_app = flask_app.extensions["celery"]
