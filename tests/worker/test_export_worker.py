"""A big export asked for on the dashboard is built by a real worker process, on the embedded broker and on Redis."""

import pytest
import sqlalchemy as sa

from backends import empty_tables
from dashboard import export_jobs
from dashboard.models import ExportJob
from extensions import db
from factories import make_campaign, make_item, make_listing, make_order, make_user
from worker_process import celery_process, wait_for

pytestmark = pytest.mark.worker


def _export_built_by_a_worker(flask_app, database_url, redis_url=None):
    with flask_app.app_context():
        operator = make_user(role="operator")
        campaign = make_campaign(status="published")
        item = make_item(campaign, [(make_listing(name="鸡蛋", unit="个", price_fen=150), 1000)])
        for _ in range(3):
            make_order(campaign, [(item, 2)])
        db.session.commit()
        with celery_process("worker", database_url, redis_url, EXPORT_DIR=flask_app.config["EXPORT_DIR"]):
            job_id = export_jobs.request_export(operator, "lines", "csv", {}).id

            def finished():
                db.session.expire_all()
                return db.session.scalar(sa.select(ExportJob.status).where(ExportJob.id == job_id)) in ("done", "failed")

            assert wait_for(finished, timeout=60)
        job = db.session.get(ExportJob, job_id)
        assert (job.status, job.rows, job.progress) == ("done", 3, 100)
        path, name, mimetype = export_jobs.export_file(operator, job_id)
        assert path.read_bytes().decode("utf-8-sig").count("鸡蛋") == 3
        assert mimetype.startswith("text/csv") and name.endswith(".csv")
        db.session.remove()
    empty_tables(flask_app)


def test_embedded_broker_builds_the_export(migrated):
    from app import create_app

    _export_built_by_a_worker(create_app("testing", SQLALCHEMY_DATABASE_URI=migrated, REDIS_URL=None), migrated)


def test_redis_broker_builds_the_export(migrated, redis_url):
    from app import create_app

    _export_built_by_a_worker(create_app("testing", SQLALCHEMY_DATABASE_URI=migrated, REDIS_URL=redis_url), migrated, redis_url)
