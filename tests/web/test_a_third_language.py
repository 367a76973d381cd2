"""Adding a language is adding a catalog: a German messages.po, written and compiled here in a
temporary folder ($BADGE_BRIDGE_LOCALE_DIR), and pages, emails and dates switch to German with
no other change; what it does not translate shows in English, the language of the code.
"""

from __future__ import annotations

import importlib.util
import re
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bridge import i18n
from bridge.delivery.catcher import MailCatcher
from bridge.delivery.mail import compose, send
from jobs.deliver import award_mail

_spec = importlib.util.spec_from_file_location(
    "issuing_fixtures", Path(__file__).parents[1] / "issuing" / "conftest.py")
assert _spec and _spec.loader
fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fixtures)
make_world, world, served, port, fetch = (fixtures.make_world, fixtures.world, fixtures.served,
                                          fixtures.port, fixtures.fetch)

GERMAN = '''msgid ""
msgstr ""
"Language: de\\n"
"Content-Type: text/plain; charset=utf-8\\n"
"Plural-Forms: nplurals=2; plural=(n != 1);\\n"

msgid "Badge verification"
msgstr "Überprüfung des Abzeichens"

msgid "Status:"
msgstr "Status:"

msgid "Valid"
msgstr "Gültig"

msgid "Hello %(name)s,"
msgstr "Hallo %(name)s,"

msgid "Your badge \\"%(badge_name)s\\" from %(issuer_name)s"
msgstr "Ihr Abzeichen „%(badge_name)s“ von %(issuer_name)s"

msgid "This badge is valid until %(expires_on)s."
msgstr "Dieses Abzeichen ist gültig bis %(expires_on)s."

msgid "Attended “{title}”, {place}"
msgstr "Teilnahme an „{title}“, {place}"
'''


@pytest.fixture(autouse=True)
def german(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path_factory.mktemp("locale")
    po = root / "de" / "LC_MESSAGES" / "messages.po"
    po.parent.mkdir(parents=True)
    po.write_text(GERMAN, encoding="utf-8")
    monkeypatch.setenv(i18n.ENV_DIR, str(root))
    return root


def page(url: str, accept_language: str) -> str:
    request = urllib.request.Request(url, headers={"Accept": "text/html",
                                                   "Accept-Language": accept_language})
    with urllib.request.urlopen(request) as response:
        assert response.headers["Content-Language"] == accept_language[:2]
        return response.read().decode()


def test_the_page_speaks_german_to_a_german_browser(served) -> None:
    assert i18n.languages() == ("de", "en", "fr")
    award = served.award(issued=datetime(2026, 11, 29, 9, tzinfo=UTC))
    url = served.issuer.urls.verify_page(award.id)
    html = page(url, "de-DE,de;q=0.9,fr;q=0.5")
    assert '<html lang="de">' in html and "<h1>Überprüfung des Abzeichens</h1>" in html
    assert ">Gültig</span>" in html and 'id="issued-on">29.11.2026<' in html
    assert "Teilnahme an „Atelier robots“, Tiers-lieu du port, Nice — 08.10.2026" in html
    assert "<h2 id=\"downloads\">Downloads</h2>" in html  # not in the German catalog: English
    assert 'content="de_DE"' in html
    # The French page now offers both other languages, each named in its own language.
    french = page(url, "fr")
    assert re.findall(r'id="lang-(\w+)">([^<]+)<', french) == [("de", "Deutsch"), ("en", "English")]


def test_a_german_learner_gets_a_german_email(served) -> None:
    award = served.award(lang="de", name="Jürgen", expires=timedelta(days=365),
                         issued=datetime(2026, 11, 29, 9, tzinfo=UTC))
    catcher = MailCatcher().start()
    try:
        smtp = served.config.smtp.model_copy(update={"host": catcher.host, "port": catcher.port})
        send(compose(award_mail(served.config, served.store, award), smtp, None), smtp)
        msg = catcher.messages[-1]
    finally:
        catcher.stop()
    # The badge's own texts are the rule's content, in the languages the rule gives (here fr, en).
    assert msg["Subject"] == "Ihr Abzeichen „Médiateur SNT <hybride>“ von Tiers-lieu <Numérique> & Co"
    assert msg["Content-Language"] == "de"
    text = msg.get_body(("plain",)).get_content()
    assert text.startswith("Hallo Jürgen,") and "gültig bis 29.11.2027." in text


def test_without_the_catalog_german_learners_get_the_default_language(served, monkeypatch) -> None:
    monkeypatch.delenv(i18n.ENV_DIR)
    award = served.award(lang="de")
    assert award_mail(served.config, served.store, award).lang == "fr"
