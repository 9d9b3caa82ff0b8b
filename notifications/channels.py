"""Delivery channels for the outbox: in-app, email (SMTP or files), SMS (log or an HTTP gateway)."""

import json
import smtplib
import urllib.request
from email.message import EmailMessage
from pathlib import Path

from flask import current_app

from database import utcnow


class DeliveryError(Exception):
    """A channel could not deliver; the dispatcher retries with back-off."""


def deliver(notification) -> None:
    """Send one notification through its channel.

    :raises DeliveryError: the channel refused or could not be reached.
    """
    if notification.channel == "inapp":
        return
    if not notification.address:
        raise DeliveryError("no address for this channel")
    if notification.channel == "email":
        _send_email(notification)
    elif notification.channel == "sms":
        _send_sms(notification)
    else:
        raise DeliveryError(f"unknown channel {notification.channel}")


def _send_email(notification):
    config = current_app.config
    message = EmailMessage()
    message["From"] = config["MAIL_SENDER"]
    message["To"] = notification.address
    message["Subject"] = notification.title
    message["Message-ID"] = f"<pinbang-{notification.id}@{config['MAIL_SENDER'].split('@')[-1].rstrip('>')}>"
    message.set_content(notification.body)
    backend = config["MAIL_BACKEND"]
    if backend == "console":
        current_app.logger.info("Email to %s: %s\n%s", notification.address, notification.title, notification.body)
        return
    if backend == "file":
        folder = Path(config["MAIL_FILE_DIR"])
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{notification.id:08d}.eml").write_bytes(bytes(message))
        return
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
        raise DeliveryError(f"SMTP: {error}") from error
    finally:
        # Once the server has accepted the message it is delivered: an odd answer to QUIT must not make us send it again.
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()


def _send_sms(notification):
    send_sms(notification.address, notification.body, notification.id)


def send_sms(address, body, reference) -> None:
    """Send one SMS now through the configured backend (the log file, or the HTTP gateway).

    The outbox's dispatcher uses it with retries; a one-time code uses it directly, since a code that arrives after
    a back-off has expired.
    :raises DeliveryError: the gateway refused or could not be reached.
    """
    config = current_app.config
    text = f"【{config['SMS_SENDER']}】{body}"
    if config["SMS_BACKEND"] == "log":
        with open(config["SMS_LOG_FILE"], "a", encoding="utf-8") as log:
            log.write(f"{utcnow().isoformat()}\t{address}\t{text.replace(chr(10), ' ')}\n")
        return
    request = urllib.request.Request(
        config["SMS_GATEWAY_URL"],
        data=json.dumps({"to": address, "text": text, "reference": reference}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {config['SMS_API_KEY'] or ''}"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            if response.status >= 300:
                raise DeliveryError(f"SMS gateway answered {response.status}")
    except OSError as error:
        raise DeliveryError(f"SMS gateway: {error}") from error
