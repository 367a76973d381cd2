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
    if case == "revoked":
        assert page.locator("#revocation-reason").inner_text() == "Erreur de saisie"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"verify-{case}-fr.png"), full_page=True)
    page.locator("#lang-en").focus()
    page.keyboard.press("Enter")  # keyboard, not mouse: the switch must be reachable
    page.wait_for_url("**?lang=en")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").inner_text() == "Badge verification"
    assert page.locator("#status").inner_text() == {"valid": "Valid", "expired": "Expired",
                                                    "revoked": "Revoked"}[case]
    page.screenshot(path=str(ARTIFACTS / f"verify-{case}-en.png"), full_page=True)
    # On a phone the page must not scroll sideways.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1") or case != "valid"
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
