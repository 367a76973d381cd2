"""Emails about awards (the award, its revocation, its coming expiry): composed from templates in
the learner's language, sent over SMTP.

A refused address is a PermanentDeliveryError (never retried); a connection problem or a
4xx reply is a DeliveryError (retried from the outbox).
"""

from __future__ import annotations

import re
import smtplib
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage, MIMEPart
from email.utils import format_datetime, formataddr, make_msgid
from pathlib import Path
from typing import Literal

from bridge import i18n
from bridge.addresses import email_address
from bridge.config import SmtpSettings
from bridge.delivery.templates import render
from bridge.errors import DeliveryError, InvalidAddress, PermanentDeliveryError

__all__ = ["AwardMail", "MailKind", "Mailer", "compose", "send", "envelope_recipient",
           "header_text", "message_id"]

MailKind = Literal["award", "revocation", "renewal"]
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


@dataclass(frozen=True)
class AwardMail:
    """One email about an award: the award itself, its revocation, or its coming expiry."""

    kind: MailKind
    award_id: str
    message_id: str  # the award email's; the other kinds answer it
    to_email: str
    learner_name: str | None
    lang: str  # a language with a catalog: the texts, and the dates' format
    badge_name: str
    criteria: str
    issuer_name: str
    issuer_url: str
    issuer_email: str
    verify_url: str
    issued_at: datetime
    expires_at: datetime | None = None
    image: bytes | None = None  # the baked badge (award email only): inline, and the attachment
    image_subtype: str = "png"  # "svg+xml" when the badge's own image is an SVG
    linkedin_url: str | None = None
    wallet_url: str | None = None  # the OB 3.0 credential, for wallets that take a URL
    name_choice_url: str | None = None  # the learner's signed link to hide their name
    reason: str | None = None  # why it was revoked
    renewable: bool = False  # earned again by meeting the criteria anew


def header_text(text: str) -> str:
    """Text as one header line: control characters (CR, LF, NUL…) as spaces. Names are cleaned
    where they enter (bridge.store.clean); this keeps a name stored before that from stopping
    an email."""
    return re.sub(r" {2,}", " ", _CONTROL.sub(" ", text)).strip(" ")


def message_id(mail: AwardMail) -> str:
    """The email's Message-ID: the award's, or one answering it."""
    if mail.kind == "award":
        return mail.message_id
    domain = mail.message_id.rsplit("@", 1)[-1].rstrip(">")
    return f"<{mail.kind}-{mail.award_id}@{domain}>"


def compose(mail: AwardMail, smtp: SmtpSettings, templates_dir: Path | None = None,
            now: datetime | None = None, cid: str | None = None) -> EmailMessage:
    """The email; `cid` is the image's Content-ID (a new one by default)."""
    lang = i18n.negotiate([mail.lang], i18n.SOURCE)
    cid = cid or make_msgid(domain=mail.message_id.rsplit("@", 1)[-1].rstrip(">"))
    ctx = {f.name: getattr(mail, f.name) for f in fields(mail) if f.name not in ("image", "lang")}
    ctx["image_cid"] = cid[1:-1] if mail.image else None

    def part(kind: str) -> str:
        return render(f"email/{mail.kind}.{kind}.j2", lang, templates_dir, **ctx)

    # Folding at 78 columns drops the space between two encoded words of a non-ASCII subject
    # (CPython's header folder): lines up to 998, as RFC 5322 allows, keep it in one piece.
    msg = EmailMessage(policy=policy.default.clone(max_line_length=998))
    msg["Subject"] = header_text(part("subject"))
    msg["From"] = formataddr((smtp.from_name, smtp.from_address))
    msg["To"] = formataddr((header_text(mail.learner_name or ""), mail.to_email))
    msg["Date"] = format_datetime(now or datetime.now(UTC))  # RFC 5322 §3.6 requires it
    # The award's Message-ID is kept with it: a re-send after a crash is the same message, and
    # the revocation and renewal emails are answers to it in the learner's mailbox.
    msg["Message-ID"] = message_id(mail)
    if mail.kind != "award":
        msg["In-Reply-To"] = mail.message_id
        msg["References"] = mail.message_id
    msg["X-Badge-Bridge-Award"] = mail.award_id
    msg.set_content(part("txt"))
    body: MIMEPart = msg
    if mail.image is not None:
        # One copy of the image: multipart/related around (text, HTML) and the image, which the
        # HTML shows by its Content-ID and mail programs offer as the attachment, by its name.
        msg.make_related()
        body = next(msg.iter_parts())
        ext = "png" if mail.image_subtype == "png" else "svg"
        msg.add_related(mail.image, maintype="image", subtype=mail.image_subtype, cid=cid,
                        disposition="inline", filename=f"badge-{mail.award_id}.{ext}")
    body.add_alternative(part("html"), subtype="html")
    if body is not msg:
        msg.set_param("type", "multipart/alternative")  # RFC 2387: the root part's type
    msg["Content-Language"] = lang  # after the parts: set_content() drops Content-* headers
    return msg


class Mailer:
    """One SMTP session reused for a batch of messages; reconnects once if the server hung up.

    A refused recipient leaves the session usable (RSET); other errors close it.
    """

    def __init__(self, smtp: SmtpSettings) -> None:
        self.smtp = smtp
        self.client: smtplib.SMTP | None = None

    def __enter__(self) -> Mailer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.client is not None:
            try:
                self.client.quit()
            except (OSError, smtplib.SMTPException):
                pass
            self.client = None

    def _connect(self) -> smtplib.SMTP:
        smtp = self.smtp
        if smtp.security == "tls":
            client: smtplib.SMTP = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout,
                                                    context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
        if smtp.security == "starttls":
            client.starttls(context=ssl.create_default_context())
        if smtp.username:
            client.login(smtp.username, smtp.password.get_secret_value() if smtp.password else "")
        return client

    def send(self, msg: EmailMessage, to: str | None = None) -> None:
        """Send `msg` to `to` (else the one address of its To header). The envelope is built
        from the parsed address only, never from header text: what does not parse as one address
        is a PermanentDeliveryError, and nothing is sent."""
        recipient = envelope_recipient(msg, to)
        self._send(lambda client: client.send_message(msg, from_addr=self.smtp.from_address,
                                                      to_addrs=[recipient]))

    def send_bytes(self, from_addr: str, to_addrs: Sequence[str], data: bytes,
                   options: Sequence[str] = ()) -> None:
        """Send a message already flattened (what `send` would send for its EmailMessage)."""
        self._send(lambda client: client.sendmail(from_addr, list(to_addrs), data, list(options)))

    def _send(self, send: Callable[[smtplib.SMTP], object]) -> None:
        smtp = self.smtp
        try:
            for attempt in (1, 2):
                if self.client is None:
                    self.client = self._connect()
                try:
                    send(self.client)
                    return
                except smtplib.SMTPServerDisconnected:
                    self.client = None  # an idle session timed out: one new session, then give up
                    if attempt == 2:
                        raise
        except smtplib.SMTPRecipientsRefused as exc:
            self._reset()
            codes = [c for c, _ in exc.recipients.values()]
            if all(c >= 500 for c in codes):
                raise PermanentDeliveryError(f"recipient refused by the mail server ({codes[0]})",
                                             reason="recipient_refused") from None
            raise DeliveryError(f"recipient temporarily refused ({codes[0]})",
                                reason="recipient_deferred") from None
        except smtplib.SMTPAuthenticationError as exc:
            self.close()
            raise DeliveryError(f"SMTP authentication failed ({exc.smtp_code})",
                                reason="smtp_auth") from None
        except smtplib.SMTPResponseException as exc:
            self._reset()
            permanent = 500 <= exc.smtp_code < 600 and exc.smtp_code != 530
            cls = PermanentDeliveryError if permanent else DeliveryError
            raise cls(f"mail server said {exc.smtp_code}",
                      reason="server_refused" if permanent else "server_deferred") from None
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            raise DeliveryError(f"cannot reach the mail server {smtp.host}:{smtp.port}: "
                                f"{type(exc).__name__}", reason="smtp_unreachable") from None

    def _reset(self) -> None:
        try:
            if self.client is not None:
                self.client.rset()
        except (OSError, smtplib.SMTPException):
            self.close()


def envelope_recipient(msg: EmailMessage, to: str | None = None) -> str:
    """The one address an email goes to, parsed by email-validator (bridge.addresses)."""
    if to is None:
        try:
            header = msg["To"]
            found = [a.addr_spec for a in header.addresses] if header is not None else []
        except (AttributeError, IndexError, ValueError):
            found = []
        if len(found) != 1:
            raise PermanentDeliveryError("the To header does not hold exactly one address")
        to = found[0]
    try:
        return email_address(to)
    except InvalidAddress as exc:
        raise PermanentDeliveryError(f"not one email address: {exc.reason.split(':')[0]}") from None


def send(msg: EmailMessage, smtp: SmtpSettings) -> None:
    """Send one message in its own SMTP session."""
    with Mailer(smtp) as mailer:
        mailer.send(msg)
