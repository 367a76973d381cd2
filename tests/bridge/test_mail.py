"""SMTP delivery against a real local server: one session for a batch, refusals classified."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from bridge.config import SmtpSettings
from bridge.delivery.catcher import MailCatcher
from bridge.delivery.mail import Mailer
from bridge.errors import DeliveryError, PermanentDeliveryError


def message(to: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "badges@example.org", to, "Votre badge"
    msg.set_content("Bonjour")
    return msg


def test_a_batch_uses_one_session_and_a_refused_address_does_not_stop_the_others():
    catcher = MailCatcher().start()
    catcher.refuse.add("gone@example.org")
    try:
        with Mailer(SmtpSettings(port=catcher.port)) as mailer:
            mailer.send(message("a@example.org"))
            with pytest.raises(PermanentDeliveryError, match="recipient refused by the mail server"):
                mailer.send(message("gone@example.org"))
            mailer.send(message("b@example.org"))
        assert catcher.recipients == [["a@example.org"], ["b@example.org"]]
        assert catcher.sessions == 1
    finally:
        catcher.stop()


def test_an_unreachable_server_is_a_retryable_delivery_error():
    from bridge.web.server import free_port

    with Mailer(SmtpSettings(port=free_port())) as mailer:
        with pytest.raises(DeliveryError) as err:
            mailer.send(message("a@example.org"))
    assert err.value.retryable and "cannot reach the mail server" in str(err.value)
