"""Delivery channels for the outbox: in-app, email (SMTP or files), SMS (log or an HTTP gateway)."""

import json
import smtplib
import urllib.request
import uuid
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

from flask import current_app

from database import utcnow


class DeliveryError(Exception):
    """A channel could not deliver; the dispatcher retries with back-off."""


def deliver(notification) -> Callable[[], None]:
    """Send one notification through its channel, carrying its message id so a gateway can drop a repeat.

    :returns: the hang-up, to call once the delivery is recorded: closing a connection is no part of delivering, so
        it waits until the outbox knows.
    :raises DeliveryError: the channel refused or could not be reached.
    """
    if notification.channel == "inapp":
        return _nothing
    if not notification.address:
        raise DeliveryError("no address for this channel")
    if notification.channel == "email":
        return _send_email(notification)
    if notification.channel == "sms":
        _send_sms(notification)
        return _nothing
    raise DeliveryError(f"unknown channel {notification.channel}")


def _nothing():
    pass


def _message_id_header(notification, sender) -> str:
    """The Message-ID every attempt of this email carries: a receiving system that already has it keeps one copy."""
    return f"<{notification.message_id}@{sender.split('@')[-1].rstrip('>')}>"


def _send_email(notification):
    config = current_app.config
    message = EmailMessage()
    message["From"] = config["MAIL_SENDER"]
    message["To"] = notification.address
    message["Subject"] = notification.title
    message["Message-ID"] = _message_id_header(notification, config["MAIL_SENDER"])
    message.set_content(notification.body)
    backend = config["MAIL_BACKEND"]
    if backend == "console":
        current_app.logger.info("Email to %s: %s\n%s", notification.address, notification.title, notification.body)
        return _nothing
    if backend == "file":
        folder = Path(config["MAIL_FILE_DIR"])
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{notification.id:08d}.eml").write_bytes(bytes(message))
        return _nothing
    try:
        smtp = smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=10)
    except (OSError, smtplib.SMTPException) as error:
        raise DeliveryError(f"SMTP: {error}") from error
    try:
        if config["MAIL_USE_TLS"]:
            smtp.starttls()
        if config["MAIL_USERNAME"]:
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
        smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as error:
        _quit(smtp)
        raise DeliveryError(f"SMTP: {error}") from error
    except BaseException:
        _quit(smtp)
        raise
    return lambda: _quit(smtp)


def _quit(smtp):
    # Once the server has accepted the message it is delivered: an odd answer to QUIT must not make us send it again.
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()


def _send_sms(notification):
    send_sms(notification.address, notification.body, notification.id, notification.message_id)


def send_sms(address, body, reference, message_id=None) -> None:
    """Send one SMS now through the configured backend (the log file, or the HTTP gateway).

    The outbox's dispatcher uses it with retries and the row's stable message id; a one-time code uses it directly,
    since a code that arrives after a back-off has expired, with a message id of its own.
    :raises DeliveryError: the gateway refused or could not be reached.
    """
    config = current_app.config
    message_id = message_id or uuid.uuid4().hex
    text = f"【{config['SMS_SENDER']}】{body}"
    if config["SMS_BACKEND"] == "log":
        with open(config["SMS_LOG_FILE"], "a", encoding="utf-8") as log:
            # The message id last: a repeat of one text (a dispatcher that died before recording it) shows as such.
            log.write(f"{utcnow().isoformat()}\t{address}\t{text.replace(chr(10), ' ')}\t{message_id}\n")
        return
    payload = {"to": address, "text": text, "reference": reference, "message_id": message_id}
    request = urllib.request.Request(
        config["SMS_GATEWAY_URL"],
        data=json.dumps(payload).encode(),
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {config['SMS_API_KEY'] or ''}",
            # Gateways keep what they accepted by this key and answer a repeat without sending it again.
            "Idempotency-Key": message_id,
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            if response.status >= 300:
                raise DeliveryError(f"SMS gateway answered {response.status}")
    except OSError as error:
        raise DeliveryError(f"SMS gateway: {error}") from error
