"""Celery tasks: thin wrappers that take ids and call services; the worker hands the fan-out the close's renderers."""

from celery import shared_task
from sqlalchemy.exc import OperationalError

import after_commit
from dashboard import export_jobs, kept_figures
from fulfilment import closing, early_close, notices, picklists
from notifications.fanout import expand_fanouts
from notifications.services import dispatch_due
from producers import expiry
from shop import notices as campaign_notices
from shop import reminders

# Each area renders its own fan-out notices: the close's, and a cancelled campaign's.
RENDERERS = {**notices.RENDERERS, **campaign_notices.RENDERERS}

# A database that is briefly unreachable or locked is worth retrying; anything else is a bug to look at.
RETRY = {
    "autoretry_for": (OperationalError,),
    "max_retries": 5,
    "retry_backoff": 5,
    "retry_backoff_max": 300,
    "retry_jitter": True,
}


@shared_task(name=after_commit.DISPATCH_NOTIFICATIONS)
def dispatch_notifications():
    """Expand pending fan-outs (a pooled campaign's notices to its producers and buyers), then send
    every due notification in the outbox; safe to run from several workers at once, and the sweep that finishes a
    fan-out a dead worker left."""
    expand_fanouts(RENDERERS)
    return dispatch_due()


@shared_task(name="worker.tasks.close_due_campaigns", **RETRY)
def close_due_campaigns():
    """Beat's sweep: close the open campaigns that sold out, then start the close job for every campaign past its
    closing time or closed but not yet pooled, and keep the figures of pooled campaigns still waiting for them.

    Also the safety net for a close job whose message was lost (broker down when an operator closed early)
    or whose worker died: the campaign is still "closed" (or its figures pending) in the database, so the next
    sweep sends it again.
    :returns: the campaign ids sent to be closed.
    """
    early_close.close_sold_out_campaigns()
    campaign_ids = closing.campaigns_to_close()
    for campaign_id in campaign_ids:
        close_campaign_task.apply_async(args=[campaign_id])
    for campaign_id in kept_figures.pending_campaigns():
        keep_figures_task.apply_async(args=[campaign_id])
    return campaign_ids


@shared_task(name=after_commit.CLOSE_CAMPAIGN, **RETRY)
def close_campaign_task(campaign_id):
    """Close and pool one campaign (idempotent: a repeat, a redelivery or a second beat's copy changes nothing).

    :param campaign_id: the campaign's id.
    :returns: the outcome from :func:`fulfilment.closing.close_campaign`.
    """
    outcome = closing.close_campaign(campaign_id)
    if outcome == "allocated":
        # The producers' and buyers' notices were queued as fan-out rows in the close; write them now rather than
        # at the next sweep, then send them.
        expand_fanouts(RENDERERS)
        after_commit.send_task(after_commit.DISPATCH_NOTIFICATIONS)
        kept_figures.keep_pending_figures(campaign_id)
    return outcome


@shared_task(name="worker.tasks.keep_figures", **RETRY)
def keep_figures_task(campaign_id):
    """Keep a pooled campaign's figures that the close task did not get to (idempotent: a kept one is left alone).

    :returns: True when this run kept them.
    """
    return kept_figures.keep_pending_figures(campaign_id)


@shared_task(name="worker.tasks.send_delivery_reminders", **RETRY)
def send_delivery_reminders():
    """Queue the day-before-delivery reminders to producers (the service nudges the dispatcher).

    :returns: how many producers were newly reminded.
    """
    return picklists.send_delivery_reminders()


@shared_task(name="worker.tasks.send_campaign_reminders", **RETRY)
def send_campaign_reminders():
    """Beat's sweep: remind buyers before campaigns close (items short of their minimum; those not yet ordered).

    :returns: how many people were newly reminded.
    """
    return reminders.send_campaign_reminders()


@shared_task(name="worker.tasks.send_certificate_expiry_notices", **RETRY)
def send_certificate_expiry_notices():
    """Beat's daily sweep: tell producers of certificates expiring within 30 days (once per certificate and date).

    :returns: how many certificates were newly told of.
    """
    return expiry.send_expiry_notices()


@shared_task(name=after_commit.RUN_EXPORT, **RETRY)
def run_export(job_id):
    """Build one queued export's file (idempotent: a repeat or a redelivery finds the job taken and does nothing).

    :param job_id: the ExportJob's id.
    :returns: "done", "failed", or None.
    """
    return export_jobs.run_export(job_id)


@shared_task(name="worker.tasks.sweep_exports", **RETRY)
def sweep_exports():
    """Beat's sweep: delete exports kept long enough, and send again the ones whose message went missing.

    :returns: counts of deleted and resent jobs.
    """
    return export_jobs.sweep_exports()
