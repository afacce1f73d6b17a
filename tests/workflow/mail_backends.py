"""E-mail backends that fail, for the notice tests (``settings.EMAIL_BACKEND`` = a dotted path)."""

from __future__ import annotations

import smtplib

from django.core.mail.backends.base import BaseEmailBackend

ATTEMPTS: list[str] = []


class RefusingBackend(BaseEmailBackend):
    """A permanent failure: the server refuses the recipient."""

    def send_messages(self, email_messages):
        ATTEMPTS.extend(m.to[0] for m in email_messages)
        raise smtplib.SMTPRecipientsRefused({m.to[0]: (550, b"no such user") for m in email_messages})


class UnreachableBackend(BaseEmailBackend):
    """A transient failure: the server cannot be reached."""

    def send_messages(self, email_messages):
        ATTEMPTS.extend(m.to[0] for m in email_messages)
        raise ConnectionRefusedError("connection refused")
