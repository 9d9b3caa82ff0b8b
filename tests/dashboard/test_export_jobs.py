"""Big exports in the background: queued as a job, built by the worker's service, offered to the operator who asked."""

import csv
import io
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from dashboard import export_jobs, exports, order_lines
from dashboard.models import ExportJob
from database import utcnow
from extensions import db
from factories import make_user

# The sold lines of the dashboard's data set: A 2+1+1+1 (honey below minimum, a cancelled line and a cancelled order
# left out), B 2; the draft's never count.
SOLD_LINES = 7


def _job_id(response):
    assert response.status_code == 302
    assert "/dashboard/exports/" in response.headers["Location"]
    return int(response.headers["Location"].rstrip("/").rsplit("/", 1)[-1])


def _csv_rows(content):
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def test_every_campaigns_order_lines_are_built_in_the_background(sales_data, operator, client, auth):
    auth.login(operator.phone)
    job_id = _job_id(client.get("/dashboard/export/lines.csv"))

    waiting = client.get(f"/dashboard/exports/{job_id}")
    assert waiting.status_code == 200
    assert 'http-equiv="refresh"' in waiting.text
    assert "等待" in waiting.text
    assert client.get(f"/dashboard/exports/{job_id}.json").json["status"] == "queued"
    assert client.get(f"/dashboard/exports/{job_id}/file").status_code == 404

    assert export_jobs.run_export(job_id) == "done"

    status = client.get(f"/dashboard/exports/{job_id}.json").json
    assert status["ready"] and status["progress"] == 100 and status["rows"] == SOLD_LINES
    page = client.get(f"/dashboard/exports/{job_id}")
    assert 'http-equiv="refresh"' not in page.text and "下载" in page.text
    download = client.get(status["url"])
    assert download.status_code == 200
    assert "attachment" in download.headers["Content-Disposition"]
    assert download.headers["Cache-Control"] == "no-store"  # personal data: no shared cache keeps a copy
    rows = _csv_rows(download.data)
    assert rows[0][:3] == ["活动", "订单", "下单时间"]
    assert len(rows) == 1 + SOLD_LINES
    assert {row[0] for row in rows[1:]} == {"春季消费扶贫", "马蹄专场"}
    assert f"#{job_id}" in client.get("/dashboard/exports").text


def test_an_export_is_only_for_the_operator_who_asked(sales_data, operator, client, auth):
    job = export_jobs.request_export(operator, "lines", "xlsx", {})
    export_jobs.run_export(job.id)
    other = make_user(role="operator", phone="13900008888")
    auth.login(other.phone)
    for path in ("", ".json", "/file"):
        assert client.get(f"/dashboard/exports/{job.id}{path}").status_code == 404
    assert client.post(f"/dashboard/exports/{job.id}/retry").status_code == 404
    assert f"#{job.id}" not in client.get("/dashboard/exports").text
    auth.logout()
    auth.login(operator.phone)
    workbook = load_workbook(io.BytesIO(client.get(f"/dashboard/exports/{job.id}/file").data))
    assert workbook.active.max_row == 1 + SOLD_LINES


def test_a_small_export_is_still_answered_at_once(sales_data, operator, client, auth):
    auth.login(operator.phone)
    response = client.get(f"/dashboard/export/lines.csv?campaign_id={sales_data.camp_b.id}")
    assert response.status_code == 200
    assert len(_csv_rows(response.data)) == 1 + 2
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ExportJob)) == 0


def test_any_table_over_the_limit_goes_to_the_background(app, sales_data, operator, client, auth):
    app.config["EXPORT_INLINE_MAX_ROWS"] = 2
    auth.login(operator.phone)
    job_id = _job_id(client.get("/dashboard/export/outstanding.xlsx"))
    assert export_jobs.run_export(job_id) == "done"
    workbook = load_workbook(io.BytesIO(client.get(f"/dashboard/exports/{job_id}/file").data))
    assert workbook.active.max_row == 1 + 5  # the five outstanding pick lines of campaign A


def test_progress_is_saved_while_the_lines_are_written(sales_data, operator, monkeypatch):
    monkeypatch.setattr(order_lines, "CHUNK", 2)
    job = export_jobs.request_export(operator, "lines", "csv", {})
    seen = []
    report = export_jobs._report

    def watching(job_id):
        saved = report(job_id)

        def progress(done, total):
            saved(done, total)
            db.session.expire_all()
            row = db.session.get(ExportJob, job_id)
            seen.append((row.status, row.rows, row.progress))

        return progress

    monkeypatch.setattr(export_jobs, "_report", watching)
    assert export_jobs.run_export(job.id) == "done"
    assert seen == [("running", 2, 28), ("running", 4, 57), ("running", 6, 85)]


def test_a_failed_export_says_so_and_can_be_tried_again(sales_data, operator, client, auth, monkeypatch):
    def broken(args):
        raise RuntimeError("disk full")

    monkeypatch.setitem(exports.TABLES, "lines", broken)
    auth.login(operator.phone)
    job_id = _job_id(client.get("/dashboard/export/lines.csv"))
    assert export_jobs.run_export(job_id) == "failed"
    page = client.get(f"/dashboard/exports/{job_id}")
    assert "RuntimeError" in page.text and "/retry" in page.text and "失败" in page.text

    monkeypatch.setitem(exports.TABLES, "lines", order_lines.order_lines)
    assert client.post(f"/dashboard/exports/{job_id}/retry").status_code == 302
    assert client.get(f"/dashboard/exports/{job_id}.json").json["status"] == "queued"
    assert export_jobs.run_export(job_id) == "done"
    assert client.get(f"/dashboard/exports/{job_id}/file").status_code == 200
    # Only a failed export is retried.
    client.post(f"/dashboard/exports/{job_id}/retry")
    assert client.get(f"/dashboard/exports/{job_id}.json").json["status"] == "done"


def test_a_second_message_for_the_same_job_changes_nothing(sales_data, operator):
    job = export_jobs.request_export(operator, "lines", "csv", {})
    assert export_jobs.run_export(job.id) == "done"
    db.session.expire_all()
    first = db.session.get(ExportJob, job.id).file_path
    assert export_jobs.run_export(job.id) is None
    db.session.expire_all()
    assert db.session.get(ExportJob, job.id).file_path == first
    assert (export_jobs.export_dir() / first).is_file()


def test_the_sweep_deletes_expired_exports_and_resends_lost_ones(sales_data, operator, monkeypatch):
    kept, old, lost = (export_jobs.request_export(operator, "lines", "csv", {}).id for _ in range(3))
    export_jobs.run_export(kept)
    export_jobs.run_export(old)
    db.session.expire_all()
    old_file = export_jobs.export_dir() / db.session.get(ExportJob, old).file_path
    assert old_file.is_file()
    now = utcnow()
    db.session.execute(sa.update(ExportJob).where(ExportJob.id == old).values(expires_at=now - timedelta(minutes=1)))
    db.session.execute(sa.update(ExportJob).where(ExportJob.id == lost).values(created_at=now - timedelta(minutes=5)))
    db.session.commit()
    resent = []
    monkeypatch.setattr(export_jobs.after_commit, "run_export", resent.append)

    assert export_jobs.sweep_exports() == {"deleted": 1, "resent": 1}

    assert resent == [lost]
    assert not Path(old_file).exists()
    statuses = dict(db.session.execute(sa.select(ExportJob.id, ExportJob.status)).all())
    assert statuses == {kept: "done", lost: "queued"}


@pytest.mark.parametrize("name", ["nothing", "lines"])
def test_an_unknown_table_or_format_is_not_found(sales_data, operator, client, auth, name):
    auth.login(operator.phone)
    assert client.get(f"/dashboard/export/{name}.pdf").status_code == 404
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ExportJob)) == 0
