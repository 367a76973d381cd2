"""The console in headless Chromium (Debian's /usr/bin/chromium, via Playwright), driven as a
coordinator would, mostly from the keyboard: a wrong password refused, log in, find a learner,
read why they have not got a badge, revoke an award (its public page then says revoked), send
one again (the SMTP server receives it), erase a learner; a form stripped of its CSRF token is
refused; no console page opens without a session. Screenshots go to test-artifacts/console/.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from starlette.routing import Route

from bridge.console import ConsoleSetup
from bridge.web.app import create_app
from jobs.console import Console

pytestmark = pytest.mark.browser
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]
USER, PASSWORD = "camille.admin", "correct horse battery staple"


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true" or os.environ.get("BADGE_BRIDGE_REQUIRE_SERVICES") == "1":
            pytest.fail("chromium is required at /usr/bin/chromium")
        pytest.skip("chromium is not installed at /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        b.close()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def accessible(page) -> None:
    """What every console page keeps: its language, one h1, a label for every field, a skip link."""
    assert page.locator("html").get_attribute("lang") in ("fr", "en")
    assert page.locator("h1").count() == 1
    unlabelled = page.evaluate("""() => [...document.querySelectorAll('input, select, textarea')]
        .filter(e => e.type !== 'hidden' && !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
        .map(e => e.name)""")
    assert unlabelled == [], unlabelled
    assert page.locator("a.skip[href='#content']").count() == 1


CONTRAST = """(el) => {
  const rgb = s => s.match(/[\\d.]+/g).map(Number);
  const lum = ([r, g, b]) => { const f = c => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
                               return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  let bg = null, node = el;
  while (node && node.nodeType === 1) {
    const c = rgb(getComputedStyle(node).backgroundColor);
    if (c.length < 4 || c[3] > 0) { bg = c; break; }
    node = node.parentElement;
  }
  const a = lum(rgb(getComputedStyle(el).color)), b = lum(bg || [255, 255, 255]);
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}"""


def contrast_ok(page, selectors: list[str]) -> None:
    """WCAG AA: text against its background at least 4.5:1, for each element shown."""
    for selector in selectors:
        for element in page.locator(selector).all():
            ratio = element.evaluate(CONTRAST)
            assert ratio >= 4.5, (selector, round(ratio, 2))


def test_a_coordinator_works_in_the_console(browser, world) -> None:
    store, mailbox = world.store, world.mailbox
    awarded = {a.award.learner_id for a in store.awards.listing(badge_id="snt-hybride")}
    everyone = store.facts.learners(store.facts.learner_ids())
    # "Why didn't she get her badge?": a learner the platform knows, without the badge.
    camille = next(p for lid, p in sorted(everyone.items()) if lid not in awarded and p.email)
    errors: list[str] = []
    context = browser.new_context(locale="fr-FR", extra_http_headers={"Accept-Language": "fr"})
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    # No session: the console sends to the login page.
    page.goto(world.url("/admin/awards"))
    assert re.search(r"/admin/login\?next=%2Fadmin%2Fawards$", page.url)
    assert page.locator("h1").inner_text() == "Se connecter"
    accessible(page)
    shot(page, "login-fr")

    # A wrong password is refused.
    page.fill("#username", USER)
    page.fill("#password", "not my password")
    page.keyboard.press("Enter")
    page.wait_for_selector("#login-error")
    assert page.locator("#login-error").get_attribute("data-error") == "wrong"
    shot(page, "login-refused-fr")

    # The right one, typed: back to the page asked for.
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url == world.url("/admin/awards")
    assert page.locator("h1").inner_text() == "Attributions"

    # The dashboard, from the keyboard: the skip link first, then the sections.
    page.goto(world.url("/admin"))
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    assert page.locator("#sources [data-source='sandbox'] [data-status]").get_attribute("data-status") == "ok"
    assert int(page.locator("[data-count='week']").inner_text()) == len(store.awards.listing())
    accessible(page)
    # The health check ran (the sandbox, SMTP, the public URL): what it flags, or nothing.
    assert page.locator("#findings, #doctor-clear").count() == 1
    contrast_ok(page, ["body", "nav.sections a", ".brand a", "#logout", ".status", "th", "td", "h2",
                       "#lang-en", "a.skip", ".finding strong", ".small"])
    shot(page, "dashboard-fr")
    page.locator("h1").evaluate("e => { e.style.color = '#aaaaaa'; }")
    assert page.locator("h1").evaluate(CONTRAST) < 4.5  # the check can fail

    # Find the learner by part of their address, open their page.
    page.click("nav.sections >> text=Apprenants")
    page.fill("#q", camille.email.split("@")[0])
    page.keyboard.press("Enter")
    page.wait_for_selector("#learners")
    page.locator(f"#learners a:text-is('{camille.email}')").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/admin/learners/{camille.id}")
    assert page.locator("h1").inner_text() == camille.email
    accessible(page)

    # Why not: the rule's tree, with what is missing.
    page.select_option("#why-badge", "snt-hybride")
    page.click("#why-form button")
    page.wait_for_selector("#why-tree")
    assert page.locator("#verdict").get_attribute("data-awarded") == "false"
    assert page.locator("#why-tree li[data-met='false']").count() >= 1
    assert page.locator("#why-tree .missing").count() >= 1
    contrast_ok(page, [".why", ".missing", ".facts li", "button", "label", "select", ".danger a"])
    shot(page, "why-not-fr")

    # Revoke an award; its public page then says revoked.
    victim = store.awards.listing(badge_id="snt-hybride")[0].award
    page.goto(world.url(f"/admin/awards/{victim.id}"))
    accessible(page)
    page.fill("#reason", "Erreur de saisie")
    page.click("#revoke-form button")
    page.wait_for_selector("#done")
    assert page.locator("#done").get_attribute("data-done") == "revoked"
    contrast_ok(page, ["#done", "button.danger", "textarea", "code"])
    assert page.locator("#award-status [data-status]").get_attribute("data-status") == "revoked"
    shot(page, "revoked-fr")
    public = context.new_page()
    public.goto(world.url(f"/v/{victim.id}"))
    assert public.locator("#status").get_attribute("data-status") == "revoked"
    assert public.locator("#revocation-reason").inner_text() == "Erreur de saisie"
    shot(public, "public-page-revoked-fr")
    public.close()

    # Send another award's email again: the SMTP server receives it.
    other = next(a.award for a in store.awards.listing() if a.award.status == "issued")
    before = mailbox.received
    page.goto(world.url(f"/admin/awards/{other.id}"))
    page.locator("#resend-form button").focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("#done")
    assert page.locator("#done").get_attribute("data-done") == "sent"
    assert mailbox.received == before + 1
    assert mailbox.messages[-1]["X-Badge-Bridge-Award"] == other.id
    shot(page, "resent-fr")

    # A form stripped of its CSRF token is refused, and nothing happens.
    third = next(a.award for a in store.awards.listing()
                 if a.award.status == "issued" and a.award.id != other.id)
    page.goto(world.url(f"/admin/awards/{third.id}"))
    page.evaluate("document.querySelector('#revoke-form input[name=csrf]').remove()")
    page.fill("#reason", "sans jeton")
    page.click("#revoke-form button")
    page.wait_for_selector("#refused")
    assert page.locator("#refused").get_attribute("data-reason") == "csrf"
    contrast_ok(page, ["#refused"])
    assert store.awards.get(third.id).status == "issued"
    shot(page, "csrf-refused-fr")

    # Erase the learner, with the confirmation.
    page.goto(world.url(f"/admin/learners/{camille.id}"))
    page.click("#erase-link")
    page.wait_for_url(f"**/admin/learners/{camille.id}/erase")
    accessible(page)
    page.fill("#confirm_email", camille.email)
    shot(page, "erase-confirm-fr")
    page.click("#erase-form button")
    page.wait_for_selector("#done")
    assert page.locator("#done").get_attribute("data-done") == "erased"
    assert store.facts.learner_by_email(camille.email) is None

    # The other language, kept from page to page.
    page.goto(world.url("/admin/audit?lang=en"))
    assert page.locator("h1").inner_text() == "Audit log"
    page.goto(world.url("/admin/badges"))
    assert page.locator("html").get_attribute("lang") == "en"
    page.click("#badges a:text-is('snt-hybride')")
    assert page.locator("#versions tbody tr").count() >= 1
    shot(page, "badge-history-en")
    page.goto(world.url("/admin/dry-run"))
    assert page.locator("#dry-summary").count() == 1
    page.goto(world.url("/admin/meetups"))
    accessible(page)
    shot(page, "meetups-en")
    assert [e.action for e in reversed(store.admin.audit_log())] == ["login", "revoke", "resend", "erase"]
    # The refusals answer 401 and 403 on purpose; nothing else went wrong in the pages.
    assert [e for e in errors if not re.search(r"status of 40[13]", e)] == []
    context.close()


def test_no_console_page_opens_without_a_session(browser, world) -> None:
    app = create_app(world.config, world.store, ConsoleSetup(Console(world.config, world.store)))
    award = world.store.awards.listing()[0].award
    values = {"run_id": str(world.store.runs.last(1)[0].id), "award_id": award.id,
              "learner_id": str(award.learner_id), "badge_id": award.badge_id,
              "session_id": "rencontre-demo", "checkin_id": "1"}
    pages = [re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: values[m.group(1)], r.path)
             for r in app.routes if isinstance(r, Route) and r.path.startswith("/admin")
             and "GET" in (r.methods or ()) and r.path != "/admin/login"]
    assert len(pages) >= 14
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    for path in pages:
        page.goto(world.url(path))
        assert "/admin/login?next=" in page.url, path
        assert page.locator("#login-form").count() == 1, path
        assert award.recipient_email not in page.content()
    context.close()
