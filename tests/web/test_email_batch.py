"""Emails composed once per badge and language and spliced per award: the same bytes as the
message composed whole, sent once each over several SMTP sessions, one bad message alone failing.
"""

from __future__ import annotations

import importlib.util
import re
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.utils import formataddr
from pathlib import Path
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.config import SmtpSettings
from bridge.delivery.catcher import MailCatcher
from bridge.delivery.fastmail import MailTemplates, _recipient, flatten, to_line
from bridge.delivery.mail import AwardMail, compose
from bridge.issuing.share import linkedin_url
from bridge.store import NewOutboxItem
from jobs.deliver import deliver_emails

_spec = importlib.util.spec_from_file_location(
    "issuing_fixtures", Path(__file__).parents[1] / "issuing" / "conftest.py")
assert _spec and _spec.loader
fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fixtures)
make_world, world, served, port = fixtures.make_world, fixtures.world, fixtures.served, fixtures.port

POLICY = policy.default.clone(max_line_length=998, linesep="\r\n")  # compose's, as sent
NAMES = ["Zoé Dupont", "Jean Dupont", None, "O'Brien <x>", "Éloïse & Co", "A" * 80,
         "Jean-Baptiste de la Fontaine-Dupont, dit « le Grand », de Château-Thierry", "Li Wei"]


def mail(n: int, name: str | None, lang: str, kind: str, expires: bool) -> AwardMail:
    award_id = f"0000-{n:04d}"
    issued = datetime(2026, 3, 1, 9, n % 60, tzinfo=UTC)
    return AwardMail(
        kind=kind, award_id=award_id, message_id=f"<award-{award_id}@badges.example.org>",  # type: ignore[arg-type]
        to_email=f"learner{n}@example.org", learner_name=name, lang=lang,
        badge_name="Médiateur <SNT>", criteria="Suivre le MOOC & venir", issuer_name="Tiers-lieu",
        issuer_url="https://tiers-lieu.example.org", issuer_email="badges@example.org",
        verify_url=f"https://badges.example.org/v/{award_id}", issued_at=issued,
        expires_at=issued + timedelta(days=365) if expires else None,
        image=b"\x89PNG\r\n" + bytes(range(256)) * (n % 7 + 1) if kind == "award" else None,
        linkedin_url=f"https://www.linkedin.com/profile/add?name=M%C3%A9diateur&certId={award_id}&a=1",
        wallet_url=f"https://badges.example.org/ob3/credentials/{award_id}",
        name_choice_url=f"https://badges.example.org/v/{award_id}/name?t=tok{n}",
        reason="Erreur de saisie <b>" if kind == "revocation" else None, renewable=n % 2 == 0)


def normalised(data: bytes) -> bytes:
    """Boundaries numbered in order, the image's Content-ID (random in both) named alike."""
    seen: dict[bytes, bytes] = {}
    data = re.sub(rb"={15}\d{19}==", lambda m: seen.setdefault(m.group(), b"B%d" % len(seen)), data)
    return re.sub(rb"(Content-ID: <|cid:)[^@]+@", rb"\1CID@", data)


@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.parametrize("kind", ["award", "revocation", "renewal"])
def test_a_spliced_email_is_the_composed_one_byte_for_byte(lang: str, kind: str) -> None:
    smtp = SmtpSettings(from_name="Tiers-lieu « Badges »")
    templates = MailTemplates(smtp)
    now = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    for n in range(3 * len(NAMES)):
        m = mail(n, NAMES[n % len(NAMES)], lang, kind, expires=kind == "renewal" or n % 3 > 0)
        spliced, whole = templates.envelope(m, now), flatten(compose(m, smtp, now=now), smtp, m.to_email)
        assert (spliced.from_addr, spliced.to_addrs, spliced.options) == (
            whole.from_addr, whole.to_addrs, whole.options) == ("badges@example.org", (m.to_email,), ())
        assert normalised(spliced.data) == normalised(whole.data), m.learner_name
    # Most were spliced: only the first of each kind, and names too long for one line, were not.
    assert templates.spliced >= len(NAMES)


def with_smtp(config, catcher, **smtp):
    smtp = config.smtp.model_copy(update={"host": catcher.host, "port": catcher.port, **smtp})
    return config.model_copy(update={"smtp": smtp})


def queue(served, award):
    served.store.outbox.add([NewOutboxItem(key=f"email:{award.id}", channel="email",
                                           payload={"award_id": award.id, "kind": "award"},
                                           learner_id=award.learner_id, award_id=award.id)])
    return award


@pytest.fixture
def catcher():
    c = MailCatcher().start()
    yield c
    c.stop()


def test_a_batch_over_several_sessions_sends_each_email_once_and_one_bad_one_fails_alone(
        served, catcher, monkeypatch) -> None:
    config = with_smtp(served.config, catcher, connections=3)
    awards = [queue(served, served.award(lang="fr" if n % 2 else "en", name=f"Learner {n}"))
              for n in range(11)]
    bad = awards[4].id
    real = MailTemplates.envelope

    def envelope(self, m, now=None):
        if m.award_id == bad:
            raise ValueError("a template that cannot render")
        return real(self, m, now)

    monkeypatch.setattr(MailTemplates, "envelope", envelope)
    counts = deliver_emails(config, served.store)
    assert (counts.sent, counts.failed, counts.retry) == (10, 1, 0)
    sent = sorted(m["X-Badge-Bridge-Award"] for m in catcher.messages)
    assert sent == sorted(a.id for a in awards if a.id != bad)
    assert catcher.sessions == 3
    status = {i.award_id: (i.status, i.last_error) for i in served.store.outbox.items("email")}
    assert status[bad][0] == "failed" and status[bad][1].startswith("cannot be composed: ValueError")
    assert {s for a, (s, _) in status.items() if a != bad} == {"sent"}
    message_ids = {i.result["message_id"] for i in served.store.outbox.items("email") if i.result}
    assert message_ids == {m["Message-ID"] for m in catcher.messages}
    assert deliver_emails(config, served.store).sent == 0 and len(catcher.raw) == 10


def test_a_refused_message_of_a_batch_is_retried_alone(served, catcher) -> None:
    config = with_smtp(served.config, catcher, connections=2)
    awards = [queue(served, served.award(name=f"Learner {n}")) for n in range(4)]
    catcher.refuse.add(served.email.lower())  # every learner of the world has this address
    counts = deliver_emails(config, served.store)
    assert (counts.sent, counts.failed) == (0, 4)  # 550: permanent, each on its own
    assert {i.status for i in served.store.outbox.items("email")} == {"failed"}
    assert len(awards) == 4


def test_an_administrator_template_naming_the_learner_in_the_subject(served, catcher, tmp_path) -> None:
    folder = tmp_path / "templates" / "email"
    folder.mkdir(parents=True)
    (folder / "award.subject.j2").write_text("Bravo {{ learner_name }}\u202f!")
    config = with_smtp(served.config, catcher)
    config = config.model_copy(update={"bridge": config.bridge.model_copy(
        update={"templates_dir": tmp_path / "templates"})})
    for name in ("Zoé", "Jean", "Jeanne"):
        queue(served, served.award(lang="fr", name=name))
    assert deliver_emails(config, served.store).sent == 3
    assert [m["Subject"] for m in catcher.messages] == ["Bravo Zoé\u202f!", "Bravo Jean\u202f!",
                                                       "Bravo Jeanne\u202f!"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet="abcXYZ09-'éÉïçñ李小龍ß", min_size=1, max_size=8), min_size=1,
                max_size=4).map(" ".join) | st.text(alphabet="ab é<>\"(),.@\\", max_size=12))
def test_the_to_header_is_the_email_packages(name: str) -> None:
    msg = EmailMessage(policy=POLICY)
    msg["To"] = formataddr((name, "learner@example.org"))
    assert to_line(name, "learner@example.org") == POLICY.fold_binary("To", msg["To"])


@pytest.mark.parametrize("connections", [1, 2])
def test_an_unreachable_mail_server_puts_the_batch_back(served, connections) -> None:
    from bridge.web.server import free_port

    smtp = served.config.smtp.model_copy(update={"port": free_port(), "connections": connections,
                                                 "timeout": 2.0})
    config = served.config.model_copy(update={"smtp": smtp})
    for n in range(5):
        queue(served, served.award(name=f"Learner {n}"))
    counts = deliver_emails(config, served.store)
    assert (counts.sent, counts.retry, counts.failed) == (0, 5, 0)
    items = served.store.outbox.items("email")
    assert {i.status for i in items} == {"pending"}
    assert sum(i.attempts for i in items) == connections  # one try a session, the rest put back


def test_the_envelope_address_is_email_validators() -> None:
    assert _recipient("Learner@Example.ORG") == "learner@example.org"
    assert _recipient("learner@example.org") == "learner@example.org"
    assert _recipient("a@b.test") is None  # special-use: refused as email-validator does
    assert _recipient("not an address") is None


@pytest.mark.parametrize("org_id", [None, 12345])
@pytest.mark.parametrize("expires", [None, datetime(2027, 2, 1, tzinfo=UTC)])
def test_the_linkedin_link_is_the_urlencoded_fields(org_id: int | None, expires: datetime | None) -> None:
    for n, name in enumerate(["Médiateur <SNT> & co", "Badge", "Médiateur <SNT> & co"]):
        issued = datetime(2026, 1 + n, 3, tzinfo=UTC)
        fields: dict[str, str | int] = {"startTask": "CERTIFICATION_NAME", "name": name}
        fields.update({"organizationId": org_id} if org_id else {"organizationName": "Tiers-lieu « F »"})
        fields.update(issueYear=issued.year, issueMonth=issued.month)
        if expires:
            fields.update(expirationYear=expires.year, expirationMonth=expires.month)
        fields.update(certUrl=f"https://badges.example.org/v/a-{n}?x=1&y=é", certId=f"a-{n}/é")
        assert linkedin_url(badge_name=name, organization="Tiers-lieu « F »", organization_id=org_id,
                            issued_at=issued, expires_at=expires, cert_url=str(fields["certUrl"]),
                            cert_id=str(fields["certId"])) == \
            "https://www.linkedin.com/profile/add?" + urlencode(fields)
