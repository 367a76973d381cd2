"""Meetup emails through the outbox: the confirmation link of a check-in that waits for it, and
the organiser's link sent to the session's organiser.

Queued where they arise (one item per check-in, per link generation: idempotent) and sent at
once by the web app or the command, then by every run's delivery step when the mail server was
away. The links are signed when the email is written, never kept in the outbox; an organiser's
link replaced meanwhile is not sent.
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
from bridge.delivery.mail import Mailer, header_text
from bridge.delivery.templates import render
from bridge.errors import DeliveryError, raised_at
from bridge.meetups.tokens import Tokens, load_key
from bridge.store import CheckIn, MeetupSession, NewOutboxItem, OutboxItem, Store
from bridge.store.runs import Failures

__all__ = ["CHANNEL", "MailCounts", "queue_confirmation", "queue_organiser_link",
           "deliver_meetup_mails", "compose"]

CHANNEL = "meetup-mail"


class MailCounts(NamedTuple):
    sent: int = 0
    retry: int = 0
    failed: int = 0
    cancelled: int = 0  # nothing left to send (the session gone, the link replaced)


def queue_confirmation(store: Store, config: Config, checkin: CheckIn, lang: str | None) -> None:
    """One confirmation email for a pending check-in, in the language of the page it came from."""
    store.outbox.add([NewOutboxItem(
        key=f"meetup-confirm:{checkin.id}", channel=CHANNEL,
        payload={"kind": "confirm", "to": checkin.email, "checkin": checkin.id,
                 "session": checkin.session_id, "lang": lang or config.bridge.default_language})])


def queue_organiser_link(store: Store, config: Config, session: MeetupSession) -> bool:
    """The organiser's link of the session's current generation, to its organiser's address."""
    if not session.organiser_email:
        return False
    return store.outbox.add([NewOutboxItem(
        key=f"meetup-organiser:{session.id}:{session.link_generation}", channel=CHANNEL,
        payload={"kind": "organiser", "to": session.organiser_email, "session": session.id,
                 "generation": session.link_generation,
                 "lang": config.bridge.default_language})]) == 1


def deliver_meetup_mails(config: Config, store: Store, limit: int | None = None, *,
                         run_id: int = 0) -> MailCounts:
    """Send the due meetup emails over one SMTP session; those not delivered are recorded on
    run `run_id`, one line per reason."""
    sent = retry = failed = cancelled = 0
    items = store.outbox.claim(CHANNEL, limit=limit or 100, run_id=run_id)
    if not items:
        return MailCounts()
    failures = Failures("email", "smtp", f"smtp://{config.smtp.host}:{config.smtp.port}")
    tokens = Tokens(load_key(config.bridge.keys_path))
    with Mailer(config.smtp) as mailer:
        for item in items:
            session = store.meetups.get(str(item.payload.get("session", "")))
            link = _link(config, tokens, session, item) if session else None
            if session is None or link is None:  # nothing left to send: not a delivery failure
                store.outbox.cancelled(item.id, "the meetup session no longer exists"
                                       if session is None
                                       else "the organiser's link was replaced before it was sent")
                cancelled += 1
                continue
            try:
                msg = compose(config, session, item, link)
            except Exception as exc:  # this email alone; the others are sent
                store.outbox.failed(item.id, f"cannot be composed: {type(exc).__name__} at "
                                    f"{raised_at(exc)}")
                failed += 1
                continue
            try:
                mailer.send(msg)
            except DeliveryError as exc:
                if not exc.retryable or item.attempts >= config.smtp.max_attempts:
                    reason = exc.reason if not exc.retryable else "out_of_attempts"
                    store.outbox.failed(item.id, str(exc), reason=reason)
                    failed += 1
                else:
                    reason = exc.reason
                    store.outbox.retry(item.id, str(exc), datetime.now(UTC) + timedelta(
                        seconds=min(30 * 2 ** (item.attempts - 1), 6 * 3600)), reason=reason)
                    retry += 1
                failures.add(reason, str(exc), f"meetup-mail:{item.id}")
                continue
            store.outbox.done(item.id, {"message_id": _message_id(item)})
            sent += 1
    if run_id:
        failures.record(store.runs, run_id)
    return MailCounts(sent, retry, failed, cancelled)


def _link(config: Config, tokens: Tokens, session: MeetupSession, item: OutboxItem) -> str | None:
    base = config.bridge.public_url
    if item.payload.get("kind") == "organiser":
        generation = item.payload.get("generation")
        return tokens.organiser_link(base, session.id, session.link_generation) \
            if generation == session.link_generation else None
    return tokens.confirm_link(base, int(item.payload["checkin"]))


def _message_id(item: OutboxItem) -> str:
    return f"<meetup-{item.payload.get('kind', 'confirm')}-{item.id}@badge-bridge>"


def compose(config: Config, session: MeetupSession, item: OutboxItem, link: str) -> EmailMessage:
    """The email of one outbox item (`kind` confirm or organiser), in its language."""
    kind = "organiser" if item.payload.get("kind") == "organiser" else "confirm"
    lang = i18n.negotiate([str(item.payload.get("lang") or "")], config.bridge.default_language)
    zone = ZoneInfo(session.timezone)
    ctx = dict(title=session.title, place=session.where, url=link,
               starts_at=session.starts_at.astimezone(zone), ends_at=session.ends_at.astimezone(zone),
               issuer_name=config.issuer.name, issuer_url=config.issuer.url)
    templates = config.bridge.templates_dir

    def part(name: str) -> str:
        return render(f"email/meetup_{kind}.{name}.j2", lang, templates, **ctx)

    msg = EmailMessage(policy=policy.default.clone(max_line_length=998))
    msg["Subject"] = header_text(part("subject"))
    msg["From"] = formataddr((config.smtp.from_name, config.smtp.from_address))
    msg["To"] = str(item.payload["to"])
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = _message_id(item)
    msg.set_content(part("txt"))
    msg.add_alternative(part("html"), subtype="html")
    msg["Content-Language"] = lang
    return msg
