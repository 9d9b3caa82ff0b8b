"""Loaded only into a test's worker (`celery worker -I tests.worker.close_pause_hook`): the close job's first run
stops after the step named by PINBANG_TEST_PAUSE_STEP (a receiver of fulfilment.closing.close_step_done) and
writes its pid to PINBANG_TEST_PAUSE_MARKER, so the test can SIGKILL that process in the middle of the job. Later runs (the marker exists) go straight through."""

import os
import time
from pathlib import Path

from fulfilment import closing

STEP = os.environ["PINBANG_TEST_PAUSE_STEP"]
MARKER = Path(os.environ["PINBANG_TEST_PAUSE_MARKER"])


@closing.close_step_done.connect
def pause(_app, campaign_id, step):
    if step == STEP and not MARKER.exists():
        MARKER.write_text(str(os.getpid()))
        while True:
            time.sleep(1)
