"""Exports too big to build while an operator waits: queued as a job, built by the worker, offered to that operator.

A job is a row (ExportJob) first and a broker message second: the message goes after the commit, and beat's sweep
sends it again for a job still queued a minute later (broker down, message lost) or running far too long (worker
killed), so no request is lost. The file is written under EXPORT_DIR (shared storage when web and workers run on
different machines) and kept EXPORT_KEEP_HOURS; the sweep deletes it and its row after that.
"""

import os
import secrets
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

import after_commit
from dashboard import delivery, exports
from dashboard.models import ExportJob
from dashboard.order_lines import count_lines
from dashboard.sales import get_campaign
from database import transaction, utcnow
from errors import Conflict, DomainError, NotFound
from extensions import db
from spreadsheets import XLSX_TYPE

MIMETYPES = {"csv": "text/csv; charset=utf-8", "xlsx": XLSX_TYPE}
PARAMS = ("campaign_id", "group_by", "unit_id", "producer_id")
# A queued job whose message has not started it after this long is sent again; so is one running far too long.
RESEND_AFTER = timedelta(minutes=1)
STALE_AFTER = timedelta(minutes=30)


def _keep():
    return timedelta(hours=float(current_app.config["EXPORT_KEEP_HOURS"]))


def export_dir() -> Path:
    folder = Path(current_app.config["EXPORT_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def export_size(name, args) -> int:
    """How many lines the table ``name`` will have, for the tables that can grow large (the others: 0)."""
    if name == "lines":
        return count_lines(args.get("campaign_id"))
    if name == "outstanding":
        return delivery.count_outstanding(args.get("campaign_id"))
    return 0


def needs_background(name, args) -> bool:
    """Every campaign's order lines, and any table over EXPORT_INLINE_MAX_ROWS lines, are built by the worker."""
    if name == "lines" and args.get("campaign_id") is None:
        return True
    return export_size(name, args) > int(current_app.config["EXPORT_INLINE_MAX_ROWS"])


def request_export(actor, name, fmt, args) -> ExportJob:
    """Queue an export for the worker; it starts once this commits.

    :param args: campaign_id, group_by, unit_id, producer_id as the table needs them.
    :raises NotFound: an unknown table or format, or no such campaign.
    """
    if name not in exports.TABLES or fmt not in exports.FORMATS:
        raise NotFound(_("Not found."))
    if args.get("campaign_id") is not None:
        get_campaign(args["campaign_id"])
    params = {key: args[key] for key in PARAMS if args.get(key) is not None}
    now = utcnow()
    with transaction():
        job = ExportJob(
            requested_by_id=actor.id, kind=name, fmt=fmt, params=params, status="queued", created_at=now, expires_at=now + _keep()
        )
        db.session.add(job)
        db.session.flush()
        after_commit.run_export(job.id)
    return job


def get_export(actor, job_id) -> ExportJob:
    """:raises NotFound: no such job, or another operator asked for it (nobody else may know it exists)."""
    job = db.session.get(ExportJob, job_id)
    if job is None or actor is None or job.requested_by_id != actor.id:
        raise NotFound(_("No such export."))
    return job


def my_exports_query(actor):
    """The operator's own exports, newest first."""
    return sa.select(ExportJob).where(ExportJob.requested_by_id == actor.id).order_by(ExportJob.id.desc())


def export_file(actor, job_id) -> tuple[Path, str, str]:
    """:returns: (path, download name, mimetype) of a finished export.

    :raises NotFound: not the caller's, not finished, or already deleted.
    """
    job = get_export(actor, job_id)
    path = export_dir() / job.file_path if job.status == "done" and job.file_path else None
    if path is None or not path.is_file():
        raise NotFound(_("This export is not ready, or no longer kept."))
    return path, job.file_name, MIMETYPES[job.fmt]


def retry_export(actor, job_id) -> ExportJob:
    """Queue a failed export again.

    :raises NotFound: not the caller's.
    :raises Conflict: the export did not fail.
    """
    job = get_export(actor, job_id)
    with transaction():
        done = db.session.execute(
            sa.update(ExportJob)
            .where(ExportJob.id == job.id, ExportJob.status == "failed")
            .values(status="queued", progress=0, rows=None, error=None, created_at=utcnow(), expires_at=utcnow() + _keep())
        ).rowcount
        if not done:
            raise Conflict(_("Only a failed export can be tried again."))
        after_commit.run_export(job.id)
    db.session.refresh(job)
    return job


def _claim(job_id) -> bool:
    """Take a queued job (or one a dead worker left running); a second copy of the message finds nothing to take."""
    now = utcnow()
    with transaction():
        return bool(
            db.session.execute(
                sa.update(ExportJob)
                .where(
                    ExportJob.id == job_id,
                    sa.or_(
                        ExportJob.status == "queued",
                        sa.and_(ExportJob.status == "running", ExportJob.started_at < now - STALE_AFTER),
                    ),
                )
                .values(status="running", started_at=now, progress=0, error=None)
            ).rowcount
        )


def _report(job_id):
    def progress(done, total):
        with transaction():
            db.session.execute(
                sa.update(ExportJob)
                .where(ExportJob.id == job_id)
                .values(rows=done, progress=min(99, done * 100 // total) if total else 0)
            )

    return progress


def run_export(job_id) -> str | None:
    """Build one queued export's file (the worker's task; a repeat or a redelivery does nothing).

    :param job_id: the ExportJob's id.
    :returns: "done", "failed", or None when there was nothing to do.
    """
    if not _claim(job_id):
        return None
    job = db.session.get(ExportJob, job_id)
    args = {**job.params, "progress": _report(job_id)}
    try:
        content, _mimetype, filename = exports.export_table(job.kind, job.fmt, args)
        stored = f"{job.id}-{secrets.token_hex(8)}.{job.fmt}"
        partial = export_dir() / f"{stored}.part"
        partial.write_bytes(content)
        os.replace(partial, export_dir() / stored)
    except DomainError as error:
        return _fail(job_id, error.message)
    except Exception as error:  # noqa: BLE001 - whatever broke, the operator sees the export failed and may retry
        current_app.logger.exception("Export %s failed", job_id)
        return _fail(job_id, _("The export could not be built (%(reason)s).", reason=type(error).__name__))
    rows = _count_rows(content, job.fmt)
    now = utcnow()
    with transaction():
        db.session.execute(
            sa.update(ExportJob)
            .where(ExportJob.id == job_id)
            .values(
                status="done",
                progress=100,
                rows=rows,
                file_path=stored,
                file_name=filename,
                finished_at=now,
                expires_at=now + _keep(),
            )
        )
    return "done"


def _count_rows(content, fmt):
    """Data lines in the file (its header not counted); None for a workbook, whose lines are not plain text."""
    if fmt != "csv":
        return None
    return max(content.count(b"\n") - 1, 0)


def _fail(job_id, message):
    db.session.rollback()
    with transaction():
        db.session.execute(
            sa.update(ExportJob)
            .where(ExportJob.id == job_id)
            .values(status="failed", error=str(message)[:500], finished_at=utcnow())
        )
    return "failed"


def sweep_exports() -> dict:
    """Beat's sweep: delete expired exports (file and row); send again the jobs whose message went missing.

    :returns: counts of deleted and resent jobs.
    """
    now = utcnow()
    folder = export_dir()
    with transaction():
        expired = db.session.execute(
            sa.select(ExportJob.id, ExportJob.file_path).where(ExportJob.expires_at < now, ExportJob.status != "running")
        ).all()
        for _id, file_path in expired:
            if file_path:
                (folder / file_path).unlink(missing_ok=True)
        if expired:
            db.session.execute(sa.delete(ExportJob).where(ExportJob.id.in_([row.id for row in expired])))
    waiting = db.session.scalars(
        sa.select(ExportJob.id).where(
            sa.or_(
                sa.and_(ExportJob.status == "queued", ExportJob.created_at < now - RESEND_AFTER),
                sa.and_(ExportJob.status == "running", ExportJob.started_at < now - STALE_AFTER),
            )
        )
    ).all()
    db.session.rollback()
    for job_id in waiting:
        after_commit.run_export(job_id)
    return {"deleted": len(expired), "resent": len(waiting)} if expired or waiting else {}


def status_of(job) -> dict:
    """What the status page (and its JSON) shows of a job."""
    return {
        "id": job.id,
        "kind": job.kind,
        "fmt": job.fmt,
        "status": job.status,
        "progress": job.progress,
        "rows": job.rows,
        "error": job.error,
        "ready": job.status == "done",
    }
