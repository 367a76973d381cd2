"""The whole meetup in headless Chromium, two browser contexts: the organiser's page shows a QR
code, the test reads it from the page's image like a phone's camera, the participant's phone
opens it and checks in, the organiser's list shows them without a reload; the session is closed
and the next sync awards the badge with the meetup as evidence and pushes the presence to
Moodle (the sandbox). Screenshots of both pages at phone size go to test-artifacts/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jobs.run import run_sync
from sandbox import SandboxPlatform

pytestmark = pytest.mark.browser
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]
PHONE = {"width": 390, "height": 844}
RULE = '''
[badge]
id = "rencontre-snt"
name = { fr = "Temps de rencontre SNT", en = "SNT meetup" }
description = { fr = "A participé à un temps de rencontre.", en = "Attended a meetup." }

[condition]
all = [{ presence = { source = "rencontres", course = "42" } }]
'''


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true needs /usr/bin/chromium")
        pytest.skip("chromium is not installed at /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        b.close()


def context(browser, locale: str, errors: list[str]):
    ctx = browser.new_context(locale=locale, viewport=PHONE, device_scale_factor=2,
                              extra_http_headers={"Accept-Language": locale})
    page = ctx.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return page


def test_organiser_and_participant_in_two_browsers_end_in_an_award_and_a_push(
        browser, tmp_path, make_meetup, read_qr) -> None:
    with SandboxPlatform("moodle", learners=30, seed=4, now=1_760_000_000, retry_after=0) as sb:
        course = sb.world.courses[0]
        learner = next(u for u in sb.world.enrolled(course.id)
                       if not sb.world.activity_completed(u, course, course.attendance_cmid))
        (tmp_path / "rules").mkdir()
        (tmp_path / "rules" / "rencontre.toml").write_text(RULE, encoding="utf-8")
        meetup = make_meetup(f'''
[[sources.rencontres.push]]
to = "lms"
course = "{course.id}"
target = "completion:{course.attendance_cmid}"

[sources.lms]
kind = "moodle"
url = "{sb.base_url}"
token = "{sb.token}"
courses = ["{course.id}"]
''')
        session = meetup.session(title="Atelier SNT : robots & capteurs", place="Fab lab <Le Port>",
                                 town="Nice")
        errors: list[str] = []
        organiser = context(browser, "fr-FR", errors)
        organiser.goto(meetup.organiser_url(session.id))
        organiser.wait_for_function("() => document.getElementById('qr').complete && "
                                    "document.getElementById('qr').naturalWidth > 0")
        assert organiser.locator("#count").inner_text() == "0"
        organiser.evaluate("window.stayed = true")  # gone if the page reloads
        url = read_qr(organiser.locator("#qr").screenshot())
        assert url.startswith(f"{meetup.base}/m/{session.id}/")

        participant = context(browser, "fr-FR", errors)
        participant.goto(url)
        assert participant.url == f"{meetup.base}/m/{session.id}"
        assert participant.locator("#session-title").inner_text() == "Atelier SNT : robots & capteurs"
        ARTIFACTS.mkdir(exist_ok=True)
        participant.screenshot(path=str(ARTIFACTS / "meetup-participant-form-fr.png"), full_page=True)
        participant.fill("#email", learner.email)
        participant.click("#next")
        assert participant.locator("#confirm-email").inner_text() == learner.email.lower()
        participant.click("#confirm")
        assert participant.locator("#result").get_attribute("data-outcome") == "checked_in"
        assert participant.locator("#result h2").inner_text() == "Vous êtes enregistré·e"
        participant.screenshot(path=str(ARTIFACTS / "meetup-participant-done-fr.png"), full_page=True)
        assert participant.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")

        organiser.wait_for_function("() => document.querySelectorAll('#attendees li').length === 1",
                                    timeout=15_000)
        assert organiser.evaluate("window.stayed === true"), "the list changed without a reload"
        assert organiser.locator("#count").inner_text() == "1"
        label = organiser.locator("#attendees li .who").inner_text()
        assert learner.email.lower() not in organiser.content()
        assert label == f"{learner.email[:2]}•••@{learner.email.split('@')[1][:1]}•••.fr"
        assert "QR code" in organiser.locator("#attendees li .meta").inner_text()
        organiser.screenshot(path=str(ARTIFACTS / "meetup-organiser-fr.png"), full_page=True)

        organiser.click("#close")
        assert organiser.locator("#state").get_attribute("data-state") == "closed"
        assert organiser.locator("#qr").count() == 0
        assert errors == [], errors

        report = run_sync(meetup.config, meetup.store)
        # No mail server here: the award's email waits (partial for that alone), nothing else.
        assert [e.step for e in report.errors] == ["email"] and report.awarded == 1, report.errors
        [listed] = meetup.store.awards.listing(badge_id="rencontre-snt")
        assert listed.email == learner.email.lower()
        assert [(p["source"], p["item"]) for p in listed.award.provenance] == [("rencontres", session.id)]
        overrides = [p for p in sb.pushes if p["kind"] == "moodle.override"]
        assert [(p["userid"], p["cmid"]) for p in overrides] == [(learner.id, course.attendance_cmid)]
        # the learner's badge page names the meetup, in words
        participant.goto(f"{meetup.base}/v/{listed.award.id}")
        assert "Atelier SNT : robots & capteurs" in participant.locator("#evidence-1").inner_text()
        assert "Fab lab <Le Port>, Nice" in participant.locator("#evidence-1").inner_text()


def test_the_participant_page_in_english_at_phone_size(browser, meetup) -> None:
    session = meetup.session()
    errors: list[str] = []
    page = context(browser, "en-GB", errors)
    page.goto(meetup.qr_url(session))
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("label[for=email]").inner_text() == \
        "The email address you use on the training platform"
    page.locator("#lang-fr").focus()
    page.keyboard.press("Enter")  # the switch is reachable by keyboard
    page.wait_for_url("**?lang=fr")
    assert page.locator("html").get_attribute("lang") == "fr"
    page.fill("#email", "not an address")
    page.click("#next")
    assert page.locator("#email-error").is_visible()
    page.screenshot(path=str(ARTIFACTS / "meetup-participant-error-fr.png"), full_page=True)
    # the form asked again answers 422, which Chromium logs: nothing else may be logged
    assert [e for e in errors if "status of 422" not in e] == [], errors


def test_the_organisers_page_shows_each_new_code_as_the_window_turns(browser, meetup, read_qr) -> None:
    """The page asks for a new image when the state says the window changed; the image it gets
    is the code of the window now (the state is rewritten here to turn the window at once)."""
    import json

    session = meetup.session()
    errors: list[str] = []
    page = context(browser, "en", errors)
    page.goto(meetup.organiser_url(session.id))
    page.wait_for_function("() => document.getElementById('qr').naturalWidth > 0")
    first = page.locator("#qr").get_attribute("src")

    def later(route) -> None:
        # asked in full (no If-None-Match), so that there is always a body to rewrite
        headers = {k: v for k, v in route.request.headers.items() if k.lower() != "if-none-match"}
        body = route.fetch(headers=headers).json()
        body["window"] += 1
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body),
                      headers={"Cache-Control": "no-store"})

    page.route("**/state", later)
    page.wait_for_function(f"() => document.getElementById('qr').getAttribute('src') !== {first!r}",
                           timeout=15_000)
    page.wait_for_function("() => document.getElementById('qr').complete && "
                           "document.getElementById('qr').naturalWidth > 0")
    assert "?w=" in page.locator("#qr").get_attribute("src")
    url = read_qr(page.locator("#qr").screenshot())
    assert url.startswith(f"{meetup.base}/m/{session.id}/")
    assert page.locator("#state").inner_text() == "Check-in is open"
    page.unroute("**/state")
    assert errors == [], errors
