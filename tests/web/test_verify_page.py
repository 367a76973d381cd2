"""The verification page and hosted URLs over HTTP: status computed live, languages, escaping,
content negotiation, downloads and Open Graph tags.
"""

from __future__ import annotations

import importlib.util
import json
import re
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path

import pytest

from bridge import i18n

# The issuing tests' fixtures (world, served, fetch...), shared without a package or conftest.
_spec = importlib.util.spec_from_file_location(
    "issuing_fixtures", Path(__file__).parents[1] / "issuing" / "conftest.py")
assert _spec and _spec.loader
fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fixtures)
make_world, world, served, port, fetch = (fixtures.make_world, fixtures.world, fixtures.served,
                                          fixtures.port, fixtures.fetch)

HTML = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"
# French abbreviated months, as CLDR writes them in a medium date (« 29 nov. 2026 »).
FR_MONTHS = ["janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.",
             "nov.", "déc."]


def page(fetch, served, award, lang: str | None = None, accept_language: str = "") -> str:
    url = served.issuer.urls.verify_page(award.id) + (f"?lang={lang}" if lang else "")
    import urllib.request
    req = urllib.request.Request(url, headers={"Accept": HTML, "Accept-Language": accept_language})
    with urllib.request.urlopen(req) as r:
        assert r.headers["Content-Type"].startswith("text/html")
        return r.read().decode()


def status_of(html: str) -> str:
    m = re.search(r'id="status" data-status="(\w+)"', html)
    assert m, html
    return m.group(1)


def test_status_is_computed_live_valid_then_revoked_with_reason_and_date(served, fetch) -> None:
    award = served.award()
    assert status_of(page(fetch, served, award)) == "valid"
    served.store.awards.revoke(award.id, "Fraude <script>alert(1)</script>")
    html = page(fetch, served, award, "fr")
    assert status_of(html) == "revoked" and "Révoqué" in html
    assert "Fraude &lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert" not in html
    today = datetime.now(UTC)
    assert f'id="revoked-on">{today.day} {FR_MONTHS[today.month - 1]} {today.year}</time>' in html


def test_an_expired_badge_says_expired(served, fetch) -> None:
    award = served.award(issued=datetime.now(UTC) - timedelta(days=40), expires=timedelta(days=30))
    html = page(fetch, served, award, "en")
    assert status_of(html) == "expired" and ">Expired<" in html and 'id="expires"' in html


def test_dates_and_punctuation_follow_the_language(served, fetch) -> None:
    award = served.award(issued=datetime(2026, 11, 29, 9, tzinfo=UTC), expires=timedelta(days=365))
    fr, en = page(fetch, served, award, "fr"), page(fetch, served, award, "en")
    assert 'datetime="2026-11-29T09:00:00+00:00" id="issued-on">29 nov. 2026<' in fr
    assert 'id="issued-on">Nov 29, 2026<' in en and 'id="expires">Nov 29, 2027<' in en
    # French puts a non-breaking space before a colon; English puts none.
    assert "Statut\u00a0: <span" in fr and "Status: <span" in en
    assert "Image du badge\u00a0: Médiateur" in fr and "l’instant" in fr  # typographic apostrophe
    assert "'" not in fr.split("<body>", 1)[1]


def test_language_from_accept_language_and_the_switch(served, fetch) -> None:
    award = served.award()
    en = page(fetch, served, award, accept_language="en-GB,en;q=0.9,fr;q=0.5")
    assert '<html lang="en">' in en and "Badge verification" in en and 'href="?lang=fr"' in en
    fr = page(fetch, served, award, accept_language="fr-FR")
    assert '<html lang="fr">' in fr and "Vérification du badge" in fr and 'href="?lang=en"' in fr
    assert "Attended “Atelier robots”, Tiers-lieu du port, Nice — Oct 8, 2026" in en
    assert "Présent·e à «\u00a0Atelier robots\u00a0», Tiers-lieu du port, Nice — 8 oct. 2026" in fr


def evidence_of(html: str) -> list[str]:
    return [unescape(e) for e in re.findall(r'<li id="evidence-\d+">([^<]*)</li>', html)]


def test_evidence_is_in_words_with_the_names_the_platforms_gave(served, fetch) -> None:
    award = served.award()
    en = evidence_of(page(fetch, served, award, "en"))
    assert en == ["Completed the course “Sciences numériques & technologie <SNT>” — Oct 1, 2026",
                  "Completed “Quiz : données structurées” in the course “SNT hybride” — Oct 3, 2026",
                  "Attended “Atelier robots”, Tiers-lieu du port, Nice — Oct 8, 2026"]
    fr = evidence_of(page(fetch, served, award, "fr"))
    assert fr[0] == "A terminé le cours «\u00a0Sciences numériques & technologie <SNT>\u00a0» — 1 oct. 2026"


def test_evidence_without_names_never_shows_an_id(served, fetch) -> None:
    """Awards issued before facts carried names: what the fact is, never its ids."""
    award = served.award(provenance=[
        {"source": "sandbox", "kind": "course_completion", "course": "42", "item": "",
         "value": 1.0, "occurred_at": "2026-10-01T10:00:00Z"},
        {"source": "sandbox", "kind": "activity_completion", "course": "42", "item": "503",
         "value": 1.0, "occurred_at": None},
        {"source": "sandbox", "kind": "grade", "course": "42", "item": "503", "value": 0.75}])
    html = page(fetch, served, award, "en")
    assert evidence_of(html) == ["Completed a course — Oct 1, 2026", "Completed an activity",
                                 "Grade 75%"]
    assert "sandbox" not in html and ">42<" not in html and "503" not in html
    credential = served.issuer.ob3_credential(award)
    with i18n.language("fr"):  # the credential speaks the award's language
        grade = f"Note de {i18n.format_percent(0.75)}"
    assert [e["name"] for e in credential["evidence"]] == ["A terminé un cours",
                                                           "A terminé une activité", grade]


def test_everything_shown_is_escaped(served, fetch) -> None:
    award = served.award(name='<img src=x onerror="alert(1)">')
    html = page(fetch, served, award)
    assert "<img src=x" not in html and "&lt;img src=x onerror=" in html
    assert "Médiateur SNT &lt;hybride&gt;" in html and "Tiers-lieu &lt;Numérique&gt; &amp; Co" in html


def test_recipient_name_hidden_when_the_config_says_so(make_world, port, fetch) -> None:
    from bridge.web.server import BackgroundServer

    world = make_world(hide_recipient_name="true")
    award = world.award(name="Alice Secret")
    server = BackgroundServer(world.config, world.store, "127.0.0.1", port).start()
    try:
        html = page(fetch, world, award, "fr")
    finally:
        server.stop()
    assert "Alice Secret" not in html and "Nom masqué" in html


def test_open_graph_and_every_download_resolves(served, fetch) -> None:
    award = served.award()
    html = page(fetch, served, award, "en")
    og = dict(re.findall(r'<meta property="og:(\w+)" content="([^"]*)"', html))
    assert og["url"] == served.issuer.urls.verify_page(award.id)
    assert fetch(og["image"])[0] == 200
    links = re.findall(r'<a href="([^"]+)" type="([^"]+)"[^>]*id="download-(\w+)"', html)
    assert {kind for _, _, kind in links} == {"png", "svg", "json", "ob3", "ob3_png"}
    for url, media, _ in links:
        status, body = fetch(url.replace("&amp;", "&"), media)
        assert status == 200 and body, url


def test_hosted_urls_negotiate_json_for_machines_and_the_page_for_browsers(served, fetch) -> None:
    award = served.award()
    for url in (served.issuer.urls.assertion(award.id), served.issuer.urls.credential(award.id)):
        status, body = fetch(url, "application/ld+json")
        assert status == 200 and json.loads(body)["type"]
        status, body = fetch(url, HTML)
        assert status == 200 and body.startswith(b"<!doctype html>")


def test_unknown_award_is_a_404_in_both_forms(served, fetch) -> None:
    assert fetch(served.issuer.urls.verify_page("nope"), HTML)[0] == 404
    assert fetch(served.issuer.urls.assertion("nope"))[0] == 404


@pytest.mark.parametrize(("path", "lang", "words"), [
    ("/v/nope", "fr", "Ce badge n’existe pas."),
    ("/v/nope", "en", "This badge does not exist."),
    ("/nowhere", "fr", "Il n’y a pas de page à cette adresse."),
    ("/nowhere", "en", "There is no page at this address."),
])
def test_a_person_gets_a_404_page_in_their_language(served, path, lang, words) -> None:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(served.config.bridge.public_url + path,
                                     headers={"Accept": HTML, "Accept-Language": lang})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request)
    html = caught.value.read().decode()
    assert caught.value.code == 404 and caught.value.headers["Content-Language"] == lang
    assert f'<html lang="{lang}">' in html and f"<h1>{words}</h1>" in html


def test_a_machine_gets_a_404_in_json_for_a_path_no_route_serves(served, fetch) -> None:
    status, body = fetch(served.config.bridge.public_url + "/nowhere")
    assert status == 404 and json.loads(body) == {"error": "not found"}


@pytest.mark.parametrize("path", ["/.well-known/did.json", "/ob2/issuer", "/ob3/status/1"])
def test_issuer_documents_are_served(served, fetch, path) -> None:
    status, body = fetch(served.config.bridge.public_url + path)
    assert status == 200 and json.loads(body)


def test_the_issuer_page_to_people_and_the_issuer_profile_to_machines(served, fetch) -> None:
    served.award()
    home = served.config.bridge.public_url + "/"
    status, body = fetch(home, HTML)
    html = body.decode()
    assert status == 200 and "<h1>Tiers-lieu &lt;Numérique&gt; &amp; Co</h1>" in html
    assert 'href="https://tiers-lieu.example.org"' in html and "Médiateur SNT &lt;hybride&gt;" in html
    assert json.loads(fetch(home)[1])["type"] == "Issuer"


def test_a_badge_class_has_a_page_for_people_and_its_criteria_link_lands_there(served, fetch) -> None:
    award = served.award(lang="en")
    assertion = json.loads(fetch(served.issuer.urls.assertion(award.id))[1])
    # The assertion names the BadgeClass in the award's language, and that document agrees.
    badge_class = json.loads(fetch(assertion["badge"])[1])
    assert badge_class["id"] == assertion["badge"] and badge_class["name"] == "SNT hybrid mediator"
    assert json.loads(fetch(served.issuer.urls.badge("snt-mediator"))[1])["name"] == "Médiateur SNT <hybride>"
    status, body = fetch(badge_class["criteria"]["id"], HTML)
    assert status == 200 and b'id="criteria"' in body and b"Complete the SNT MOOC" in body
    status, body = fetch(served.issuer.urls.achievement("snt-mediator"), HTML)
    assert status == 200 and body.startswith(b"<!doctype html>")
    credential = served.issuer.ob3_credential(award)
    assert credential["credentialSubject"]["achievement"]["name"] == "SNT hybrid mediator"


def test_pages_load_no_inline_script_or_style(served, fetch) -> None:
    """So that a strict Content-Security-Policy can be served: styles and scripts are files."""
    award = served.award()
    for url in (served.issuer.urls.verify_page(award.id), served.config.bridge.public_url + "/",
                served.issuer.urls.badge("snt-mediator")):
        html = fetch(url, HTML)[1].decode()
        assert "<style" not in html and " style=" not in html and "<script>" not in html, url
        for asset in re.findall(r'(?:href|src)="(http://127\.0\.0\.1:\d+/static/[^"]+)"', html):
            assert fetch(asset)[0] == 200, asset
