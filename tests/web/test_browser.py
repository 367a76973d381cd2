"""The verification page in headless Chromium (Debian's /usr/bin/chromium, via Playwright):
renders, shows the right status, the language switch works, no console errors; screenshots
are saved under test-artifacts/.
"""

from __future__ import annotations

import importlib.util
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "issuing_fixtures", Path(__file__).parents[1] / "issuing" / "conftest.py")
assert _spec and _spec.loader
fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fixtures)
make_world, world, served, port = fixtures.make_world, fixtures.world, fixtures.served, fixtures.port

pytestmark = pytest.mark.browser
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    fixtures.need(CHROMIUM.exists(), "chromium is not installed at /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        b.close()


def open_page(browser, url: str, locale: str, errors: list[str], mobile: bool = False):
    context = browser.new_context(locale=locale, extra_http_headers={"Accept-Language": locale},
                                  viewport={"width": 390, "height": 844} if mobile else None)
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    return page


@pytest.mark.parametrize("case", ["valid", "expired", "revoked"])
def test_page_renders_the_live_status_and_switches_language(browser, served, case) -> None:
    now = datetime.now(UTC)
    award = (served.award(issued=now - timedelta(days=40), expires=timedelta(days=30))
             if case == "expired" else served.award())
    if case == "revoked":
        served.store.awards.revoke(award.id, "Erreur de saisie")
    errors: list[str] = []
    page = open_page(browser, served.issuer.urls.verify_page(award.id), "fr-FR", errors,
                     mobile=case == "valid")
    assert page.locator("html").get_attribute("lang") == "fr"
    assert page.locator("h1").inner_text() == "Vérification du badge"
    assert page.locator("#status").get_attribute("data-status") == case
    assert page.locator("#badge-name").inner_text() == "Médiateur SNT <hybride>"
    assert page.locator("img").first.evaluate("i => i.complete && i.naturalWidth > 0")
    # Only a valid badge has the check mark and the share block; a revoked one offers nothing
    # to download.
    assert page.locator("#check").count() == (case == "valid")
    assert page.locator("#share-block").count() == (case == "valid")
    assert page.locator("#downloads").count() == (case != "revoked")
    if case == "revoked":
        assert page.locator("#revocation-reason").inner_text() == "Erreur de saisie"
        assert "✓" not in page.locator("body").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"verify-{case}-fr{'-phone' if case == 'valid' else ''}.png"),
                    full_page=True)
    page.locator("#lang-en").focus()
    page.keyboard.press("Enter")  # keyboard, not mouse: the switch must be reachable
    page.wait_for_url("**?lang=en")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").inner_text() == "Badge verification"
    assert page.locator("#badge-name").inner_text() == "SNT hybrid mediator"
    assert page.locator("#status").inner_text().removeprefix("✓") == {
        "valid": "Valid", "expired": "Expired", "revoked": "Revoked"}[case]
    assert page.locator("#issued-on").inner_text() == f"{award.issued_at:%b} {award.issued_at.day}, {award.issued_at.year}"
    page.screenshot(path=str(ARTIFACTS / f"verify-{case}-en{'-phone' if case == 'valid' else ''}.png"),
                    full_page=True)
    # On a phone the page must not scroll sideways.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1") or case != "valid"
    assert errors == [], errors


@pytest.mark.parametrize("locale", ["fr-FR", "en-GB"])
def test_the_share_block_links_copies_and_shows_a_qr_code_on_a_phone(browser, served, locale) -> None:
    award = served.award()
    errors: list[str] = []
    page = open_page(browser, served.issuer.urls.verify_page(award.id), locale, errors, mobile=True)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    linkedin = page.locator("#share-linkedin").get_attribute("href")
    assert linkedin.startswith("https://www.linkedin.com/profile/add?")
    assert "certUrl=" + served.issuer.urls.verify_page(award.id).replace(":", "%3A").replace("/", "%2F") in linkedin
    page.locator("#copy-link").click()
    assert page.evaluate("navigator.clipboard.readText()") == served.issuer.urls.verify_page(award.id)
    assert page.locator("#page-link-status").inner_text() == ("Copié" if locale == "fr-FR" else "Copied")
    page.locator("#copy-embed").click()
    embed = page.evaluate("navigator.clipboard.readText()")
    assert embed.startswith(f'<a href="{served.issuer.urls.verify_page(award.id)}"><img src=')
    qr = page.locator("#page-qr")
    qr.scroll_into_view_if_needed()
    assert qr.evaluate("i => i.complete && i.naturalWidth > 0")
    with page.expect_download() as download:
        page.locator("#share-download").click()
    assert download.value.suggested_filename == f"badge-{award.id}-ob2.png"
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#share-block").screenshot(path=str(ARTIFACTS / f"share-block-{locale[:2]}-phone.png"))
    assert errors == [], errors


def test_the_qr_code_reads_back_as_the_page_address(browser, served) -> None:
    import zxingcpp
    from PIL import Image

    award = served.award()
    errors: list[str] = []
    page = open_page(browser, served.issuer.urls.verify_page(award.id), "en", errors)
    shot = ARTIFACTS / "qr.png"
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#page-qr").screenshot(path=str(shot))
    assert [r.text for r in zxingcpp.read_barcodes(Image.open(shot))] == [
        served.issuer.urls.verify_page(award.id)]


def test_the_issuer_page_and_a_badge_page_for_people(browser, served) -> None:
    served.award()
    errors: list[str] = []
    page = open_page(browser, served.config.bridge.public_url + "/", "en", errors, mobile=True)
    assert page.locator("h1").inner_text() == "Tiers-lieu <Numérique> & Co"
    assert page.locator("#issuer-description").inner_text() == "Réseau de formation des enseignants"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "issuer-en-phone.png"), full_page=True)
    page.locator("#badge-1").click()
    page.wait_for_url("**/ob2/badges/snt-mediator")
    assert page.locator("h1").inner_text() == "SNT hybrid mediator"
    assert page.locator("#criteria-text").inner_text() == "Complete the SNT MOOC on FUN and attend two meetups."
    page.screenshot(path=str(ARTIFACTS / "badge-class-en-phone.png"), full_page=True)
    assert errors == [], errors


def test_a_name_with_markup_runs_no_script(browser, served) -> None:
    award = served.award(name='<img src=x onerror="window.pwned=1">')
    errors: list[str] = []
    page = open_page(browser, served.issuer.urls.verify_page(award.id), "en", errors)
    assert page.evaluate("window.pwned === undefined")
    assert page.locator("#recipient").inner_text() == '<img src=x onerror="window.pwned=1">'
    assert errors == [], errors


def test_ci_does_not_skip_without_chromium() -> None:
    if os.environ.get("CI") == "true":
        assert CHROMIUM.exists(), "CI=true needs /usr/bin/chromium (apt-get install -y chromium)"
