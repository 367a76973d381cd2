"""Award emails as a real local SMTP server receives them: parts, inline and attached baked
image, language, and links that resolve against the running web app.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from bridge.delivery.catcher import MailCatcher
from bridge.delivery.mail import compose, send
from bridge.issuing.bake import unbake_png
from jobs.deliver import award_mail

_spec = importlib.util.spec_from_file_location(
    "issuing_fixtures", Path(__file__).parents[1] / "issuing" / "conftest.py")
assert _spec and _spec.loader
fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fixtures)
make_world, world, served, port, fetch = (fixtures.make_world, fixtures.world, fixtures.served,
                                          fixtures.port, fixtures.fetch)


@pytest.fixture
def catcher():
    c = MailCatcher().start()
    yield c
    c.stop()


def deliver(served, catcher, award):
    smtp = served.config.smtp.model_copy(update={"host": catcher.host, "port": catcher.port})
    send(compose(award_mail(served.config, served.store, award), smtp, None), smtp)
    return catcher.messages[-1]


@pytest.mark.parametrize("lang, subject, words", [
    ("fr", "Votre badge «\u00a0Médiateur SNT <hybride>\u00a0»", "vous décerne le badge"),
    ("en", 'Your badge "SNT hybrid mediator"', "awards you the badge"),
])
def test_the_learner_receives_a_baked_badge_in_their_language(served, catcher, fetch, lang, subject,
                                                               words) -> None:
    award = served.award(lang=lang)
    msg = deliver(served, catcher, award)
    assert msg["Subject"].startswith(subject) and msg["Content-Language"] == lang
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert words in text and words in html
    # HTML escapes the badge name; the plain text keeps it as written.
    assert "Médiateur SNT &lt;hybride&gt;" in html or lang == "en"
    attachments = [p for p in msg.iter_attachments() if p.get_content_disposition() == "attachment"]
    assert [a.get_filename() for a in attachments] == [f"badge-{award.id}.png"]
    baked = attachments[0].get_content()
    assert served.issuer.urls.assertion(award.id) in (unbake_png(baked) or "")
    inline = [p for p in msg.walk() if p.get("Content-ID")]
    assert len(inline) == 1 and f'cid:{inline[0]["Content-ID"][1:-1]}' in html
    verify_url = served.issuer.urls.verify_page(award.id)
    assert verify_url in text and verify_url in html
    for url in set(re.findall(r'href="(http://127\.0\.0\.1[^"]+)"', html)):
        assert fetch(url.replace("&amp;", "&"), "text/html")[0] == 200, url


def test_linkedin_link_carries_the_certification_fields(served, catcher) -> None:
    award = served.award(lang="en")
    html = deliver(served, catcher, award).get_body(("html",)).get_content()
    link = next(u for u in re.findall(r'href="([^"]+)"', html) if "linkedin.com" in u)
    query = parse_qs(urlsplit(link.replace("&amp;", "&")).query)
    assert query["name"] == ["SNT hybrid mediator"]
    assert query["organizationName"] == ["Tiers-lieu <Numérique> & Co"]
    assert query["certUrl"] == [served.issuer.urls.verify_page(award.id)]
    assert query["issueYear"] == [str(award.issued_at.year)]


def test_an_administrator_template_overrides_the_built_in_one(served, catcher, tmp_path) -> None:
    folder = tmp_path / "templates" / "email"
    folder.mkdir(parents=True)
    (folder / "award.subject.j2").write_text("Bravo {{ learner_name }}\u202f!")
    award = served.award(lang="fr", name="Zoé")
    smtp = served.config.smtp.model_copy(update={"host": catcher.host, "port": catcher.port})
    send(compose(award_mail(served.config, served.store, award), smtp, tmp_path / "templates"), smtp)
    assert catcher.messages[-1]["Subject"] == "Bravo Zoé\u202f!"
