"""Emails as a real local SMTP server receives them: the award (one baked image, shown inline and
offered as the attachment, a Date, plain words, links that resolve against the running web app),
its revocation with the reason, and the renewal notice before it expires, each sent once.
"""

from __future__ import annotations

import importlib.util
import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from bridge.delivery.catcher import MailCatcher
from bridge.delivery.mail import compose, send
from bridge.issuing.bake import unbake_png
from bridge.store import NewOutboxItem
from jobs.deliver import award_mail, deliver_emails

_spec = importlib.util.spec_from_file_location(
    "issuing_fixtures", Path(__file__).parents[1] / "issuing" / "conftest.py")
assert _spec and _spec.loader
fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fixtures)
make_world, world, served, port, fetch = (fixtures.make_world, fixtures.world, fixtures.served,
                                          fixtures.port, fixtures.fetch)

# Words of the trade a learner should not have to know.
JARGON = ("baked", "backpack", "assertion", "cuit", "sac à dos", "assertion")


@pytest.fixture
def catcher():
    c = MailCatcher().start()
    yield c
    c.stop()


def with_smtp(config, catcher):
    smtp = config.smtp.model_copy(update={"host": catcher.host, "port": catcher.port})
    return config.model_copy(update={"smtp": smtp})


def deliver(served, catcher, award):
    config = with_smtp(served.config, catcher)
    send(compose(award_mail(config, served.store, award), config.smtp, None), config.smtp)
    return catcher.messages[-1]


def queued(served, award):
    """The award as a run writes it: with its email queued."""
    served.store.outbox.add([NewOutboxItem(key=f"email:{award.id}", channel="email",
                                           payload={"award_id": award.id, "kind": "award"},
                                           learner_id=award.learner_id, award_id=award.id)])
    return award


def links(html: str) -> list[str]:
    return [u.replace("&amp;", "&") for u in re.findall(r'href="([^"]+)"', html)]


@pytest.mark.parametrize("lang, subject, words", [
    ("fr", "Votre badge «\u00a0Médiateur SNT <hybride>\u00a0»", "vous décerne le badge"),
    ("en", 'Your badge "SNT hybrid mediator"', "awards you the badge"),
])
def test_the_learner_receives_one_baked_image_a_date_and_plain_words(served, catcher, fetch, lang,
                                                                    subject, words) -> None:
    award = served.award(lang=lang)
    before = datetime.now(UTC).replace(microsecond=0)
    msg = deliver(served, catcher, award)
    assert before <= parsedate_to_datetime(msg["Date"]) <= datetime.now(UTC)
    assert msg["Subject"].startswith(subject) and msg["Content-Language"] == lang
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert words in text and words in html
    assert "Médiateur SNT &lt;hybride&gt;" in html or lang == "en"
    # One image part: shown inline by its Content-ID, and named, so mail programs offer it.
    images = [p for p in msg.walk() if p.get_content_maintype() == "image"]
    assert len(images) == 1 and msg.get_content_type() == "multipart/related"
    image = images[0]
    assert image.get_filename() == f"badge-{award.id}.png"
    assert f'cid:{image["Content-ID"][1:-1]}' in html
    assert served.issuer.urls.assertion(award.id) in (unbake_png(image.get_content()) or "")
    for body in (text.lower(), html.lower()):
        assert not [w for w in JARGON if w in body], body
    # Who to write to, and what is kept about them.
    assert served.config.issuer.email in text and f"mailto:{served.config.issuer.email}" in html
    assert ("Vos données" if lang == "fr" else "Your privacy") in text
    verify_url = served.issuer.urls.verify_page(award.id)
    assert verify_url in text and verify_url in html
    local = [u for u in links(html) if u.startswith("http://127.0.0.1")]
    assert {urlsplit(u).path.split("/")[1] for u in local} >= {"v", "ob3"}
    for url in local:
        assert fetch(url, "text/html")[0] == 200, url
        assert url in text, url  # the plain text offers the same links


def test_the_linkedin_link_carries_the_organisation_and_the_dates(make_world, port, catcher) -> None:
    world = make_world()
    config = world.config.model_copy(update={"issuer": world.config.issuer.model_copy(
        update={"linkedin_organization_id": 1234567})})
    award = world.award(lang="en", issued=datetime(2026, 3, 2, tzinfo=UTC), expires=timedelta(days=365))
    smtp = with_smtp(config, catcher).smtp
    send(compose(award_mail(config, world.store, award), smtp), smtp)
    html = catcher.messages[-1].get_body(("html",)).get_content()
    link = next(u for u in links(html) if "linkedin.com" in u)
    query = parse_qs(urlsplit(link).query)
    assert query["name"] == ["SNT hybrid mediator"] and query["organizationId"] == ["1234567"]
    assert "organizationName" not in query
    assert (query["issueYear"], query["issueMonth"]) == (["2026"], ["3"])
    assert (query["expirationYear"], query["expirationMonth"]) == (["2027"], ["3"])
    assert query["certUrl"] == [world.issuer.urls.verify_page(award.id)]


def test_the_link_in_the_email_hides_the_learners_name_on_the_page(served, catcher, fetch) -> None:
    award = served.award(name="Zoé Martin")
    text = deliver(served, catcher, award).get_body(("plain",)).get_content()
    link = next(u for u in re.findall(r"(http://\S+/name\?t=\S+)", text))
    page = served.issuer.urls.verify_page(award.id)
    status, body = fetch(link, "text/html")
    assert status == 200 and b'id="hide-name"' in body
    assert "Zoé Martin" in fetch(page, "text/html")[1].decode()  # following the link changed nothing
    import urllib.parse
    import urllib.request

    token = parse_qs(urlsplit(link).query)["t"][0]
    form = urllib.parse.urlencode({"t": token, "hide": "1"}).encode()
    with urllib.request.urlopen(urllib.request.Request(page + "/name", data=form)) as r:
        assert r.url.startswith(page) and "Zoé Martin" not in r.read().decode()
    # A forged token changes nothing.
    forged = urllib.parse.urlencode({"t": token[:-2] + "xx", "hide": "0"}).encode()
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(urllib.request.Request(page + "/name", data=forged,
                                                      headers={"Accept": "text/html"}))
    assert refused.value.code == 404
    assert served.store.awards.get(award.id).name_hidden


def test_a_revoked_badge_is_announced_once_with_its_reason(served, catcher) -> None:
    config = with_smtp(served.config, catcher)
    award = queued(served, served.award(lang="fr"))
    assert deliver_emails(config, served.store).sent == 1
    award_msg = catcher.messages[-1]
    served.store.awards.revoke(award.id, "Erreur de saisie <b>")
    assert deliver_emails(config, served.store).sent == 1
    notice = catcher.messages[-1]
    assert notice["Subject"] == "Votre badge «\u00a0Médiateur SNT <hybride>\u00a0» a été révoqué"
    assert notice["In-Reply-To"] == award_msg["Message-ID"] != notice["Message-ID"]
    assert notice["Date"] and not [p for p in notice.walk() if p.get_content_maintype() == "image"]
    assert "Motif\u00a0: Erreur de saisie <b>" in notice.get_body(("plain",)).get_content()
    assert "Erreur de saisie &lt;b&gt;" in notice.get_body(("html",)).get_content()
    assert not served.store.awards.revoke(award.id, "encore")
    assert deliver_emails(config, served.store).sent == 0 and len(catcher.raw) == 2
    kinds = [(i.kind, i.status) for i in served.store.outbox.items(award_id=award.id)]
    assert kinds == [("award", "sent"), ("revocation", "sent")]


def test_no_revocation_email_for_a_badge_whose_email_never_left(served, catcher) -> None:
    config = with_smtp(served.config, catcher)
    award = queued(served, served.award())
    served.store.awards.revoke(award.id, "Erreur")
    counts = deliver_emails(config, served.store)
    # cancelled, not failed: nothing is left to deliver, and the run is not partial for it
    assert (counts.sent, counts.failed, counts.cancelled, catcher.raw) == (0, 0, 1, [])


def test_a_renewal_notice_comes_once_within_the_notice_period(served, catcher) -> None:
    config = with_smtp(served.config, catcher)
    now = datetime.now(UTC)
    soon = queued(served, served.award(lang="en", issued=now - timedelta(days=340),
                                       expires=timedelta(days=365)))  # expires in 25 days
    later = queued(served, served.award(lang="en", issued=now - timedelta(days=300),
                                        expires=timedelta(days=365)))  # in 65 days
    assert deliver_emails(config, served.store).sent == 3  # two awards, one notice
    notice = catcher.messages[-1]
    assert notice["X-Badge-Bridge-Award"] == soon.id
    assert notice["Subject"].startswith('Your badge "SNT hybrid mediator" expires on ')
    assert notice["In-Reply-To"] == f"<award-{soon.id}@badge-bridge>"
    text = notice.get_body(("plain",)).get_content()
    assert "To renew it, write to badges@tiers-lieu.example.org." in text
    assert deliver_emails(config, served.store).sent == 0  # once per award
    assert [i.kind for i in served.store.outbox.items(award_id=later.id)] == ["award"]
    no_notice = config.model_copy(update={"bridge": config.bridge.model_copy(update={"renewal_notice": 0})})
    assert deliver_emails(no_notice, served.store).sent == 0


def test_an_administrator_template_overrides_the_built_in_one(served, catcher, tmp_path) -> None:
    folder = tmp_path / "templates" / "email"
    folder.mkdir(parents=True)
    (folder / "award.subject.j2").write_text("Bravo {{ learner_name }}\u202f!")
    award = served.award(lang="fr", name="Zoé")
    smtp = with_smtp(served.config, catcher).smtp
    send(compose(award_mail(served.config, served.store, award), smtp, tmp_path / "templates"), smtp)
    assert catcher.messages[-1]["Subject"] == "Bravo Zoé\u202f!"
