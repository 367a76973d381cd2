"""Meetup emails through the outbox: the confirmation link of a check-in that waits for it.

Queued by the check-in page (one item per check-in, idempotent), sent at once by the web app in
the background, and by every run's delivery step when the mail server was away.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from typing import NamedTuple
from zoneinfo import ZoneInfo

from bridge import i18n
from bridge.config import Config
from bridge.delivery.mail import Mailer
from bridge.delivery.templates import render
from bridge.errors import DeliveryError
from bridge.store import CheckIn, MeetupSession, NewOutboxItem, OutboxItem, Store

__all__ = ["CHANNEL", "MailCounts", "queue_confirmation", "deliver_meetup_mails", "confirmation"]

CHANNEL = "meetup-mail"


class MailCounts(NamedTuple):
    sent: int = 0
    retry: int = 0
    failed: int = 0


def queue_confirmation(store: Store, config: Config, session: MeetupSession, checkin: CheckIn,
                       token: str, lang: str | None) -> None:
    """One confirmation email for a pending check-in, in the language of the page it came from."""
    store.outbox.add([NewOutboxItem(
        key=f"meetup-confirm:{checkin.id}", channel=CHANNEL,
        payload={"to": checkin.email, "lang": lang or config.bridge.default_language,
                 "session": session.id, "url": f"{config.bridge.public_url}/m/confirm/{token}"})])


def deliver_meetup_mails(config: Config, store: Store, limit: int | None = None) -> MailCounts:
    """Send the due meetup emails over one SMTP session."""
    sent = retry = failed = 0
    items = store.outbox.claim(CHANNEL, limit=limit or 100)
    if not items:
        return MailCounts()
    with Mailer(config.smtp) as mailer:
        for item in items:
            session = store.meetups.get(str(item.payload.get("session", "")))
            if session is None:
                store.outbox.failed(item.id, "the meetup session no longer exists")
                failed += 1
                continue
            try:
                mailer.send(confirmation(config, session, item))
            except DeliveryError as exc:
                if not exc.retryable or item.attempts >= config.smtp.max_attempts:
                    store.outbox.failed(item.id, str(exc))
                    failed += 1
                else:
                    store.outbox.retry(item.id, str(exc), datetime.now(UTC) + timedelta(
                        seconds=min(30 * 2 ** (item.attempts - 1), 6 * 3600)))
                    retry += 1
                continue
            store.outbox.done(item.id, {"message_id": f"<meetup-confirm-{item.id}@badge-bridge>"})
            sent += 1
    return MailCounts(sent, retry, failed)


def confirmation(config: Config, session: MeetupSession, item: OutboxItem) -> EmailMessage:
    """The confirmation email of one outbox item, in the participant's language."""
    lang = i18n.negotiate([str(item.payload.get("lang") or "")], config.bridge.default_language)
    zone = ZoneInfo(session.timezone)
    ctx = dict(title=session.title, place=session.where, url=item.payload["url"],
               starts_at=session.starts_at.astimezone(zone), issuer_name=config.issuer.name,
               issuer_url=config.issuer.url)
    templates = config.bridge.templates_dir

    def part(kind: str) -> str:
        return render(f"email/meetup_confirm.{kind}.j2", lang, templates, **ctx)

    msg = EmailMessage(policy=policy.default.clone(max_line_length=998))
    msg["Subject"] = " ".join(part("subject").split())
    msg["From"] = formataddr((config.smtp.from_name, config.smtp.from_address))
    msg["To"] = str(item.payload["to"])
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = f"<meetup-confirm-{item.id}@badge-bridge>"
    msg.set_content(part("txt"))
    msg.add_alternative(part("html"), subtype="html")
    msg["Content-Language"] = lang
    return msg
