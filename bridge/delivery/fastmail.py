"""Award emails as bytes, fast: composed once per badge and language, spliced per award.

`compose()` builds an `EmailMessage` (three templates rendered, headers parsed and folded, the
whole tree flattened): about 3 ms a message, thirty times what sending it costs. But the emails
of one badge, in one language, on one day differ only in a few values: the learner's name and
address, the award's id, its links, its image. So the first email of such a *kind* is composed
the slow way with a sentinel in place of each of those values and flattened; the bytes, cut at
each sentinel, are its template. An email of that kind is then the template with its values put
back, escaped as their place wants (HTML-escaped in the HTML part, base64 for the image).

The first email of each kind is also composed the slow way and the two compared (boundaries
aside): a kind whose templates use a value in a way the splice cannot follow (an administrator's
template that capitalises the name, say) is never templated. A value that would change the
message's shape (a name long enough to be wrapped, an address needing SMTPUTF8) takes the slow
path, message by message. Either way the bytes are those `Mailer.send(compose(...))` sends.
"""

from __future__ import annotations

import binascii
import dataclasses
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from email import _encoded_words as _ew  # type: ignore[attr-defined]  # the To header's encoder
from email import policy
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from functools import cached_property
from io import BytesIO
from pathlib import Path

from markupsafe import escape

from bridge.addresses import email_address
from bridge.config import SmtpSettings
from bridge.delivery.mail import AwardMail, compose, envelope_recipient, header_text
from bridge.delivery.templates import environment
from bridge.errors import InvalidAddress

__all__ = ["Envelope", "MailTemplates", "flatten", "shared_templates", "to_line"]

_SLOTS = ("learner_name", "verify_url", "linkedin_url", "wallet_url", "name_choice_url",
          "award_id", "message_id", "to_email")
_SENTINEL = re.compile(rb"bbs(\d+)q(\xc3\xa9)?")
_BOUNDARY = re.compile(rb"={15}\d{19}==")
_CUT = re.compile(_SENTINEL.pattern + rb"|" + _BOUNDARY.pattern)
_SIMPLE_ID = re.compile(r"[A-Za-z0-9._+-]+\Z")
_SIMPLE_ADDR = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\Z")
_LINE = 998
_POLICY = policy.default.clone(max_line_length=_LINE, linesep="\r\n")  # compose's, as sent
_WRAP = 72  # the text part's wordwrap width (email/*.txt.j2)
_IMAGE = b"bbs99q-image"
_CID, _DATE = 98, 97  # sentinel numbers of the image's Content-ID and of the Date
_MESSAGE_ID = _SLOTS.index("message_id")
# The fields a kind is made of: all but the slots and the image.
_KIND_FIELDS = tuple(f.name for f in dataclasses.fields(AwardMail) if f.name not in (*_SLOTS, "image"))


@dataclass(frozen=True)
class Envelope:
    """A message ready for SMTP: who sends it, to whom, its bytes and the MAIL options."""

    from_addr: str
    to_addrs: tuple[str, ...]
    data: bytes
    options: tuple[str, ...] = ()


def flatten(msg: EmailMessage, smtp: SmtpSettings, to: str | None = None) -> Envelope:
    """What `Mailer.send(msg, to)` sends (from, to, bytes, MAIL options): from the configured
    address, to the one address of its To header (or `to`); PermanentDeliveryError when that
    is not one address. The messages of `compose` have no Bcc to leave out."""
    from_addr = smtp.from_address
    to_addrs = (envelope_recipient(msg, to),)
    international = not "".join([from_addr, *to_addrs]).isascii()
    out = BytesIO()
    BytesGenerator(out, policy=msg.policy.clone(utf8=True) if international else None  # type: ignore[call-arg]
                   ).flatten(msg, linesep="\r\n")
    return Envelope(from_addr, to_addrs, out.getvalue(),
                    ("SMTPUTF8", "BODY=8BITMIME") if international else ())


def _base64(data: bytes, max_line_length: int) -> bytes:
    """The image as the email package encodes an attachment (email.contentmanager)."""
    per_line = max_line_length // 4 * 3
    return b"".join(binascii.b2a_base64(data[i:i + per_line]) for i in range(0, len(data), per_line)
                    ).replace(b"\n", b"\r\n")


# A template is a list of pieces: bytes as they are, or a slot (number, context) to fill.
_Piece = bytes | tuple[int, str]


@dataclass(frozen=True)
class _Template:
    pieces: tuple[_Piece, ...]
    text_lines: dict[int, int]  # slot of the text part -> length of its line without the value
    boundaries: int  # how many distinct MIME boundaries the message has

    @cached_property
    def skeleton(self) -> tuple[list[bytes], tuple[tuple[int, int, str], ...]]:
        """The pieces as a list to copy (b"" where a value goes) and where each value goes:
        (index, slot number, context)."""
        out = [p if isinstance(p, bytes) else b"" for p in self.pieces]
        return out, tuple((i, *p) for i, p in enumerate(self.pieces) if not isinstance(p, bytes))


class MailTemplates:
    """Composes award emails to bytes; thread-safe; templates kept per kind (bounded)."""

    def __init__(self, smtp: SmtpSettings, templates_dir: Path | None = None,
                 max_kinds: int = 256) -> None:
        self.smtp, self.templates_dir, self.max_kinds = smtp, templates_dir, max_kinds
        self._templates: dict[tuple[object, ...], _Template | None] = {}
        self._uses: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()
        self.spliced = self.composed = 0  # how many messages took each path

    # -- the one entry point --------------------------------------------------------
    def envelope(self, mail: AwardMail, now: datetime | None = None) -> Envelope:
        now = now or datetime.now(UTC)
        key = self._key(mail)
        if key is not None:
            try:
                template = self._templates[key]
            except KeyError:
                return self._first(key, mail, now)
            if template is not None:
                data = self._fill(template, mail, now)
                to = _recipient(mail.to_email)
                if data is not None and to is not None:
                    self.spliced += 1
                    return Envelope(self.smtp.from_address, (to,), data)
        self.composed += 1
        return flatten(compose(mail, self.smtp, self.templates_dir, now=now), self.smtp,
                       mail.to_email)

    # -- kinds ------------------------------------------------------------------
    def _key(self, mail: AwardMail) -> tuple[object, ...] | None:
        """What the template depends on; None when this message must be composed."""
        if not (_SIMPLE_ADDR.match(mail.to_email) and self.smtp.from_address.isascii()
                and _SIMPLE_ID.match(mail.award_id) and mail.message_id.startswith("<")
                and mail.message_id.endswith(">") and "@" in mail.message_id
                and _SIMPLE_ID.match(mail.message_id[1:-1].rsplit("@", 1)[0])):
            return None
        name = mail.learner_name
        if name is not None and (name != " ".join(name.split()) or not name.isprintable()):
            return None
        uses = self._date_uses(mail.kind)
        values = []
        for field in _KIND_FIELDS:
            value = getattr(mail, field)
            if isinstance(value, datetime):
                use = uses.get(field)
                if use is None:
                    continue  # the templates do not show it
                if use == "date":
                    value = value.date()  # the templates show it through `|date` only
            values.append(value)
        return (*values, mail.image is None, name is None, name is not None and not name.isascii(),
                mail.message_id.rsplit("@", 1)[-1])

    def _date_uses(self, kind: str) -> dict[str, str]:
        """How the templates of `kind` use each moment: "date" (through `|date`, or in an `if`),
        "exact" (any other way: the moment itself is then part of the kind), absent if not at
        all. A template that includes another uses every moment exactly."""
        try:
            return self._uses[kind]
        except KeyError:
            pass
        env = environment(self.templates_dir)
        sources = "".join(env.loader.get_source(env, f"email/{kind}.{part}.j2")[0]  # type: ignore[union-attr]
                          for part in ("subject", "txt", "html"))
        fields = ("issued_at", "expires_at")
        uses: dict[str, str] = {}
        if re.search(r"{%-?\s*(include|extends|import|from)\b", sources):
            uses = dict.fromkeys(fields, "exact")
        for m in re.finditer(r"(\bif\s+)?\b(issued_at|expires_at)\b(\s*\|\s*date\b)?", sources):
            if m.group(1) or m.group(3):
                uses.setdefault(m.group(2), "date")
            else:
                uses[m.group(2)] = "exact"
        self._uses[kind] = uses
        return uses

    def _first(self, key: tuple[object, ...], mail: AwardMail, now: datetime) -> Envelope:
        """Compose the slow way, and make (and check) the template of this kind."""
        cid = make_msgid(domain=mail.message_id.rsplit("@", 1)[-1].rstrip(">"))
        exact = flatten(compose(mail, self.smtp, self.templates_dir, now=now, cid=cid), self.smtp,
                        mail.to_email)
        template: _Template | None = None
        try:
            template = self._make(mail, now)
        except ValueError:
            template = None
        if template is not None and _unbound(self._fill(template, mail, now, cid) or b"") != _unbound(exact.data):
            template = None
        with self._lock:
            if len(self._templates) >= self.max_kinds:
                self._templates.clear()
            self._templates[key] = template
        self.composed += 1
        return exact

    def _make(self, mail: AwardMail, now: datetime) -> _Template | None:
        wide = mail.learner_name is not None and not mail.learner_name.isascii()
        sentinels = {name: f"bbs{n}q" for n, name in enumerate(_SLOTS)}
        if wide:
            sentinels["learner_name"] += "é"  # the text parts as a non-ASCII name makes them
        sentinels["message_id"] = f"<bbs{_SLOTS.index('message_id')}q@{mail.message_id.rsplit('@', 1)[-1]}"
        sentinels["to_email"] = "bbs7q@example.org"
        values = {k: (v if getattr(mail, k) is not None else None) for k, v in sentinels.items()}
        probe = dataclasses.replace(mail, **values,  # type: ignore[arg-type]
                                    image=None if mail.image is None else _IMAGE)
        domain = mail.message_id.rsplit("@", 1)[-1].rstrip(">")
        msg = compose(probe, self.smtp, self.templates_dir, now=now, cid=f"<bbs{_CID}q@{domain}>")
        data = flatten(msg, self.smtp, "bbs7q@example.org").data
        date = format_datetime(now).encode()
        if data.count(date) != 1:
            return None
        data = data.replace(date, f"bbs{_DATE}q".encode())
        if mail.image is not None:
            image = _base64(_IMAGE, _LINE)
            if data.count(image) != 1:
                return None
            data = data.replace(image, b"bbs99q")
        head_end = data.index(b"\r\n\r\n")
        html = data.find(b"Content-Type: text/html")
        html_end = data.find(b"\r\n--", html) if html >= 0 else -1
        text = data.find(b"Content-Type: text/plain")
        text_end = data.find(b"\r\n--", text) if text >= 0 else -1
        # The To header is rebuilt whole: a name is quoted or encoded there as the policy says.
        to_line = re.search(rb"\r\nTo: [^\r]*\r\n", data[:head_end + 2])
        if to_line is None:
            return None
        pieces: list[_Piece] = [data[:to_line.start() + 2], (-1, "to")]
        text_lines: dict[int, int] = {}
        pos = to_line.end()
        boundaries: dict[bytes, int] = {}
        for m in _CUT.finditer(data, pos):
            start, end = m.start(), m.end()
            if m.group(0).startswith(b"="):
                n = 1000 + boundaries.setdefault(m.group(0), len(boundaries))
                pieces += [data[pos:start], (n, "boundary")]
                pos = end
                continue
            n = int(m.group(1))
            if m.group(2) and n != 0:
                return None
            slot_name = _SLOTS[n] if n < len(_SLOTS) else None
            context = ("date" if n == _DATE else "cid" if n == _CID else "image" if n == 99
                       else "html" if html <= start < html_end
                       else "text" if text <= start < text_end else "header")
            if context == "header" and slot_name not in ("award_id", "message_id"):
                return None  # a name or a link in a header: composed message by message
            if context == "text":
                line_start = data.rfind(b"\n", 0, start) + 1
                line_end = data.find(b"\r", end)
                text_lines[len(pieces) + 1] = len(
                    (data[line_start:start] + data[end:line_end]).decode("utf-8", "replace"))
            pieces += [data[pos:start], (n, context)]
            pos = end
        pieces.append(data[pos:])
        return _Template(tuple(pieces), text_lines, len(boundaries))

    def _fill(self, template: _Template, mail: AwardMail, now: datetime,
              cid: str | None = None) -> bytes | None:
        domain = mail.message_id.rsplit("@", 1)[-1].rstrip(">")
        cid = cid or make_msgid(domain=domain)
        static, slots = template.skeleton
        out = static.copy()
        boundaries = [f"==============={secrets.randbelow(10 ** 19):019d}==".encode()
                      for _ in range(template.boundaries)]
        for i, n, context in slots:
            if context == "boundary":
                out[i] = boundaries[n - 1000]
            elif context == "html":
                value = _value(mail, n)
                if value is None:
                    return None
                out[i] = str(escape(value)).encode()
            elif context == "text":
                value = _value(mail, n)
                if value is None:
                    return None
                static_len = template.text_lines[i]
                if "\n" in value or "\r" in value or (
                        static_len + len(value) > _WRAP and (static_len > 0 or " " in value)):
                    return None  # wordwrap would break this line otherwise
                out[i] = value.encode()
            elif context == "header":
                value = _value(mail, n)
                if value is None:
                    return None
                out[i] = value.encode()
            elif context == "to":
                out[i] = self._to_line(mail)
            elif context == "date":
                out[i] = format_datetime(now).encode()
            elif context == "cid":
                out[i] = cid[1:-1].rsplit("@", 1)[0].encode()
            else:  # the image
                assert mail.image is not None
                out[i] = _base64(mail.image, _LINE)
        return b"".join(out)

    def _to_line(self, mail: AwardMail) -> bytes:
        return to_line(header_text(mail.learner_name or ""), mail.to_email)


def to_line(name: str, address: str) -> bytes:
    """The To header line as compose's policy folds it (a property test compares the two).

    A name of plain words (letters, digits, `-`, `'`; one space between words) is written here:
    ASCII words as they are, from the first non-ASCII word to the last one RFC 2047 encoded
    word (`q` or `b`, whichever is shorter, as the email package picks it). Any other name goes through
    the email package."""
    if not name:
        return f"To: {address}\r\n".encode()
    words = name.split(" ")
    if all(w and all(c.isalnum() or c in "-'" for c in w) for w in words):
        wide = [i for i, w in enumerate(words) if not w.isascii()]
        if wide:  # one encoded word from the first non-ASCII word to the last
            first, last = wide[0], wide[-1] + 1
            words[first:last] = [_ew.encode(" ".join(words[first:last]), "utf-8")]
        out = words
        return f"To: {' '.join(out)} <{address}>\r\n".encode()
    msg = EmailMessage(policy=_POLICY)
    msg["To"] = formataddr((name, address))
    return _POLICY.fold_binary("To", msg["To"])


def _recipient(address: str) -> str | None:
    """The envelope's address as `Mailer.send` makes it (email-validator's), None if invalid.
    The learner's address was parsed where it entered (bridge.store.clean); one already in
    the plain form is not parsed again (bridge.addresses)."""
    try:
        return email_address(address)
    except InvalidAddress:
        return None


def _unbound(data: bytes) -> bytes:
    """The message with its MIME boundaries numbered in order of appearance."""
    seen: dict[bytes, bytes] = {}
    return _BOUNDARY.sub(lambda m: seen.setdefault(m.group(), b"BOUNDARY-%d" % len(seen)), data)


def _value(mail: AwardMail, n: int) -> str | None:
    """Slot `n`'s text in this message; None if it could meet a MIME boundary (the generator
    would then pick another boundary: the message is composed instead)."""
    if n == _MESSAGE_ID:
        value = mail.message_id[1:].rsplit("@", 1)[0]
    else:
        value = str(getattr(mail, _SLOTS[n]) or "")
    return None if "=====" in value else value


_SHARED: dict[tuple[object, ...], MailTemplates] = {}
_SHARED_LOCK = threading.Lock()


def shared_templates(smtp: SmtpSettings, templates_dir: Path | None = None) -> MailTemplates:
    """The process's MailTemplates for this sender and templates folder: a daemon's runs reuse
    the kinds already made. An administrator's template edited on disk starts afresh."""
    stamp: tuple[tuple[str, int], ...] = ()
    if templates_dir is not None and templates_dir.is_dir():
        stamp = tuple(sorted((str(p), p.stat().st_mtime_ns) for p in templates_dir.rglob("*.j2")))
    key = (smtp.from_name, smtp.from_address, templates_dir, stamp)
    with _SHARED_LOCK:
        found = _SHARED.get(key)
        if found is None:
            if len(_SHARED) >= 8:
                _SHARED.clear()
            found = _SHARED[key] = MailTemplates(smtp, templates_dir)
        return found
