"""The console over HTTP (a real server on loopback): login, sessions, CSRF, throttling, every
page behind the login, the actions and their audit log, in French and English."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from starlette.routing import Route

from bridge.console import ConsoleSetup
from bridge.web.app import create_app
from bridge.web.console import MAX_ADDRESS_FAILURES, MAX_FAILURES, SESSION_COOKIE
from cli import main
from jobs.console import Console


def _paths(world) -> list[tuple[str, str]]:
    """Every /admin route of the app, with its parameters filled with real values."""
    app = create_app(world.config, world.store, ConsoleSetup(Console(world.config, world.store)))
    award = world.store.awards.listing()[0].award
    values = {"run_id": str(world.store.runs.last(1)[0].id), "award_id": award.id,
              "learner_id": str(award.learner_id), "badge_id": award.badge_id,
              "session_id": "rencontre-demo", "checkin_id": "1"}
    out = []
    for route in app.routes:
        if isinstance(route, Route) and route.path.startswith("/admin"):
            path = re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: values[m.group(1)], route.path)
            for method in sorted(route.methods or {"GET"}):
                if method != "HEAD":
                    out.append((method, path))
    return out


def test_no_console_page_is_reachable_without_a_session(world, client) -> None:
    paths = _paths(world)
    assert len(paths) >= 18
    for method, path in paths:
        if path == "/admin/login":
            continue
        answer = client.get(path) if method == "GET" else client.post(path, {"reason": "x",
                                                                             "email": "a@b.c"})
        if method == "GET":
            assert answer.status_code == 303, (method, path)
            assert answer.headers["location"].startswith("/admin/login?next="), (method, path)
        else:
            assert answer.status_code == 403, (method, path)
            assert 'data-reason="no_session"' in answer.text
    # A made-up cookie is no session either.
    client.http.cookies.set(SESSION_COOKIE, "forged", path="/admin")
    assert client.get("/admin").status_code == 303
    assert all(a.revocation_reason is None for a in (r.award for r in world.store.awards.listing()))


def test_login_sets_a_strict_http_only_cookie_and_logout_ends_the_session(world, client) -> None:
    answer = client.login()
    assert answer.status_code == 303 and answer.headers["location"] == "/admin"
    cookie = answer.headers["set-cookie"]
    assert f"{SESSION_COOKIE}=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Path=/admin" in cookie and "Secure" not in cookie  # http:// public URL
    dashboard = client.get("/admin")
    assert dashboard.status_code == 200 and 'data-source="sandbox"' in dashboard.text
    assert dashboard.headers["cache-control"] == "no-store"
    token = client.http.cookies.get(SESSION_COOKIE)
    assert token and token not in str(world.store.admin.audit_log())
    client.post("/admin/logout", {})
    assert client.last.status_code == 303
    # The old cookie is worth nothing once logged out (the session is gone from the database).
    client.http.cookies.set(SESSION_COOKIE, token, path="/admin")
    assert client.get("/admin").status_code == 303


def test_a_wrong_password_is_refused_and_repeated_failures_are_throttled(world, client) -> None:
    refused = client.login(password="not the password")
    assert refused.status_code == 401 and 'data-error="wrong"' in refused.text
    assert SESSION_COOKIE not in client.http.cookies
    unknown = client.login(user="nobody")
    assert unknown.status_code == 401 and 'data-error="wrong"' in unknown.text
    for _ in range(MAX_FAILURES - 1):
        assert client.login(password="guess").status_code == 401
    # Over the limit, even the right password is refused for the window: the counter is per
    # account and address, in the database.
    throttled = client.login()
    assert throttled.status_code == 429 and 'data-error="throttled"' in throttled.text
    assert SESSION_COOKIE not in client.http.cookies


def test_many_names_tried_from_one_address_are_throttled_too(world, client) -> None:
    for n in range(MAX_ADDRESS_FAILURES):
        assert client.login(user=f"name-{n}", password="guess").status_code == 401
    assert client.login().status_code == 429  # the real account, from that address


def test_forms_without_the_csrf_token_are_refused(world, client) -> None:
    award = world.store.awards.listing()[0].award
    # The login form itself: a POST without the pre-login cookie's token.
    client.get("/admin/login")
    bare = client.post("/admin/login", {"username": "camille.admin",
                                        "password": "correct horse battery staple"}, csrf=False)
    assert bare.status_code == 403 and 'data-error="csrf"' in bare.text
    client.login()
    client.get(f"/admin/awards/{award.id}")
    for given in (None, "wrong-token", "jeton-forgé-é"):
        data = {"reason": "test"} if given is None else {"reason": "test", "csrf": given}
        answer = client.post(f"/admin/awards/{award.id}/revoke", data, csrf=False)
        assert answer.status_code == 403 and 'data-reason="csrf"' in answer.text
    assert world.store.awards.get(award.id).status == "issued"
    assert [e.action for e in world.store.admin.audit_log()] == ["login"]


@pytest.mark.parametrize("world", ["sqlite", "postgresql"], indirect=True)
def test_revoke_resend_link_and_erase_are_done_and_audited(world, client) -> None:
    client.login()
    listed = world.store.awards.listing()
    first, second = listed[0].award, listed[1].award
    sent_before = world.mailbox.received
    client.get(f"/admin/awards/{second.id}")
    answer = client.post(f"/admin/awards/{second.id}/resend", {})
    assert answer.status_code == 303 and answer.headers["location"].endswith("?done=sent")
    assert world.mailbox.received == sent_before + 1
    assert world.mailbox.messages[-1]["X-Badge-Bridge-Award"] == second.id

    client.get(f"/admin/awards/{first.id}")
    assert client.post(f"/admin/awards/{first.id}/revoke", {"reason": " "}).status_code == 400
    client.get(f"/admin/awards/{first.id}")
    client.post(f"/admin/awards/{first.id}/revoke", {"reason": "Erreur de saisie"})
    assert world.store.awards.get(first.id).revocation_reason == "Erreur de saisie"
    public = client.http.get(world.url(f"/v/{first.id}"), headers={"Accept": "text/html"}, timeout=30)
    assert 'data-status="revoked"' in public.text
    revoked = client.get("/admin/awards?status=revoked").text
    assert re.findall(r'data-award="([^"]+)"', revoked) == [first.id]
    valid = client.get("/admin/awards?status=valid&badge=snt-hybride").text
    assert first.id not in valid and second.id in valid
    someone = client.get("/admin/awards?q=" + listed[1].email.split("@")[0].upper()).text
    assert second.id in re.findall(r'data-award="([^"]+)"', someone)

    # Someone checked in at the meetup with an address no platform knows.
    from datetime import UTC, datetime

    from bridge.meetups.desk import Desk

    desk = Desk(world.config, world.store)
    session = world.store.meetups.get("rencontre-demo")
    desk.check_in(session, "cam.perso@example.net", "organiser", now=datetime.now(UTC))
    [checkin] = world.store.meetups.unmatched()
    learner = world.store.facts.learners([second.learner_id])[second.learner_id]
    client.get("/admin/meetups")
    assert "cam.perso@example.net" in client.last.text
    answer = client.post(f"/admin/checkins/{checkin.id}/link", {"email": learner.email})
    assert answer.headers["location"].endswith("?done=linked")
    assert world.store.meetups.unmatched() == []

    client.get(f"/admin/learners/{learner.id}/erase")
    mismatch = client.post(f"/admin/learners/{learner.id}/erase", {"confirm_email": "other@x.org"})
    assert mismatch.status_code == 400 and world.store.facts.learner_by_email(learner.email)
    client.get(f"/admin/learners/{learner.id}/erase")
    client.post(f"/admin/learners/{learner.id}/erase", {"confirm_email": learner.email})
    assert client.last.headers["location"].endswith("?done=erased")
    assert world.store.facts.learner_by_email(learner.email) is None
    assert world.store.awards.get(second.id).status == "revoked"

    log = world.store.admin.audit_log()
    assert [(e.actor, e.action) for e in reversed(log)] == [
        ("camille.admin", "login"), ("camille.admin", "resend"), ("camille.admin", "revoke"),
        ("camille.admin", "link_checkin"), ("camille.admin", "erase")]
    assert log[0].target == f"learner {learner.id}" and learner.email not in str(log)
    audit = CliRunner().invoke(main, ["admin", "audit", "--config", str(world.config_path)])
    assert audit.exit_code == 0 and "revoke" in audit.output and "Erreur de saisie" in audit.output


@pytest.mark.parametrize("lang,heading", [("fr", "Tableau de bord"), ("en", "Dashboard")])
def test_every_page_renders_in_french_and_english(world, client, lang, heading) -> None:
    client.login()
    page = client.get(f"/admin?lang={lang}")
    assert f'<html lang="{lang}">' in page.text and f"<h1>{heading}</h1>" in page.text
    for method, path in _paths(world):
        if method != "GET" or path == "/admin/login" or "checkins" in path:
            continue
        answer = client.get(path)
        assert answer.status_code == 200, (path, answer.status_code)
        assert f'<html lang="{lang}">' in answer.text, path
        assert re.search(r"<h1>[^<]+</h1>", answer.text), path


def test_the_admin_command_never_takes_a_short_password(world) -> None:
    runner = CliRunner()
    short = runner.invoke(main, ["admin", "add", "other", "--config", str(world.config_path),
                                 "--password-from-env"], env={"BADGE_BRIDGE_ADMIN_PASSWORD": "short"})
    # The config speaks French (default_language = "fr").
    assert short.exit_code == 2 and "au moins 12" in short.output
    typed = runner.invoke(main, ["admin", "add", "other", "--config", str(world.config_path)],
                          input="a long enough secret\na long enough secret\n")
    assert typed.exit_code == 0 and "a long enough secret" not in typed.output
    assert world.store.admin.accounts() == ["camille.admin", "other"]
    stored = world.store.admin.account("other")
    assert stored is not None and stored.password_hash.startswith("$argon2id$")
    removed = runner.invoke(main, ["admin", "remove", "other", "--config", str(world.config_path)])
    assert removed.exit_code == 0 and world.store.admin.accounts() == ["camille.admin"]
    again = runner.invoke(main, ["admin", "remove", "other", "--config", str(world.config_path)])
    assert again.exit_code != 0


def test_a_removed_account_is_logged_out_at_once(world, client) -> None:
    client.login()
    assert client.get("/admin").status_code == 200
    CliRunner().invoke(main, ["admin", "remove", "camille.admin", "--config", str(world.config_path)])
    assert client.get("/admin").status_code == 303
    assert client.login().status_code == 401


def _dashboard(world, setup: ConsoleSetup, lang: str = "en") -> list[str]:
    """The dashboard of a web app given `setup`, logged in, twice."""
    import requests

    from bridge.web.server import BackgroundServer, free_port

    port = free_port()
    server = BackgroundServer(world.config, world.store, "127.0.0.1", port, setup).start()
    try:
        http = requests.Session()
        base = f"http://127.0.0.1:{port}"
        login = http.get(base + "/admin/login", timeout=30)
        token = re.search(r'name="csrf" value="([^"]*)"', login.text).group(1)
        http.post(base + "/admin/login", data={"csrf": token, "username": "camille.admin",
                                               "password": "correct horse battery staple"},
                  allow_redirects=False, timeout=30)
        return [http.get(f"{base}/admin?lang={lang}", timeout=120).text for _ in range(2)]
    finally:
        server.stop()


def test_the_dashboard_lists_what_the_health_check_flags(world) -> None:
    """The health check is injected: its failures and warnings on the dashboard (not what is
    fine), asked at most every few minutes; its own failure said plainly."""
    from bridge.errors import ConfigError
    from bridge.model import Finding

    calls = []

    def doctor() -> list[Finding]:
        calls.append(1)
        return [Finding("fail", "core_completion_get_course_completion_status",
                        "not in the token's web service", "add it to the external service",
                        "course completion", "sandbox"),
                Finding("ok", "the store", "reachable")]

    first, second = _dashboard(world, ConsoleSetup(Console(world.config, world.store), doctor=doctor))
    assert first.count('class="finding finding-fail"') == 1 and "the store" not in first
    assert "Fix: add it to the external service" in first and "not in the token" in first
    assert second.count('class="finding finding-fail"') == 1 and len(calls) == 1  # kept a while

    def broken() -> list[Finding]:
        raise ConfigError("cannot reach the database", key="bridge.db_url")

    page = _dashboard(world, ConsoleSetup(Console(world.config, world.store), doctor=broken))[0]
    assert "bridge.db_url: cannot reach the database" in page


def test_serve_gives_the_console_the_real_health_check(world) -> None:
    """`badge-bridge serve`'s setup: `doctor` probes the store, keys, SMTP, the public URL and
    the sandbox's web service, in the page's language."""
    from cli.admin import console_setup

    page = _dashboard(world, console_setup(world.config, world.store), lang="fr")[0]
    assert 'id="no-doctor"' not in page and 'id="doctor-error"' not in page
    assert 'id="findings"' in page or 'id="doctor-clear"' in page
    assert "Vérifié il y a" in page


def test_without_a_health_check_the_dashboard_says_so(world) -> None:
    page = _dashboard(world, ConsoleSetup(Console(world.config, world.store)))[0]
    assert 'id="no-doctor"' in page


def test_the_dry_run_evaluates_the_rule_files_as_they_are_now(world, tmp_path) -> None:
    import shutil

    from cli.demo import demo_rules_dir

    console = Console(world.config, world.store)
    now = console.dry_run()
    assert now.badges == 2 and now.problems == () and now.would_award == ()
    broken = tmp_path / "rules"
    shutil.copytree(demo_rules_dir(), broken)
    with (broken / "snt-hybride.toml").open("a", encoding="utf-8") as f:
        f.write("\n[condition.oops\n")
    config = world.config.model_copy(update={"bridge": world.config.bridge.model_copy(
        update={"rules_dir": broken})})
    result = Console(config, world.store).dry_run()
    assert result.would_award == () and len(result.problems) == 1
    assert "snt-hybride.toml" in result.problems[0]


def test_a_badge_page_shows_its_rule_version_history(world, client) -> None:
    """Versions as runs first published them, and older ones known only from their awards."""
    from dataclasses import fields, replace
    from datetime import timedelta

    from bridge.store import NewAward

    badge = world.store.awards.badge("snt-hybride")
    world.store.awards.publish_badge("snt-hybride", "edited-version", badge.definition, None, None)
    world.store.awards.publish_badge("snt-hybride", badge.version, badge.definition, None, None)
    old = world.store.awards.listing(badge_id="snt-hybride")[0].award
    legacy = NewAward(**{f.name: getattr(old, f.name) for f in fields(NewAward)})
    world.store.awards.create(replace(legacy, id="legacy-award", period="2025", rule_version="legacy-v",
                                      issued_at=old.issued_at - timedelta(days=400), message_id=None))
    client.login()
    page = client.get("/admin/badges/snt-hybride?lang=en").text
    versions = re.findall(r"<code>([\w-]+)</code>", page.split('id="versions"')[1])
    assert versions == ["edited-version", badge.version, "legacy-v"]
    assert "before records were kept" in page
    assert f'<code id="current-version">{badge.version}</code>' in page


def test_a_source_error_shows_on_the_dashboard_and_its_run(world, client) -> None:
    from bridge.errors import SourceError

    run = world.store.runs.last(1)[0]
    world.store.runs.record_error(run.id, SourceError(
        "the token is not valid", source="sandbox", endpoint="core_enrol_get_enrolled_users",
        status=200, code="invalidtoken", fix="make a new token"))
    client.login()
    dashboard = client.get("/admin?lang=en").text
    row = dashboard.split('data-source="sandbox"')[1].split("</tr>")[0]
    assert 'data-status="error"' in row and "1 error" in row
    assert 'data-status="ok"' in dashboard.split('data-source="rencontres"')[1].split("</tr>")[0]
    page = client.get(f"/admin/runs/{run.id}").text
    assert "the token is not valid — fix: make a new token" in page
    assert "core_enrol_get_enrolled_users" in page
    assert re.search(rf'href="/admin/runs/{run.id}">run {run.id}</a></th>\s*<td>.*?</td><td>.*?</td>\s*'
                     r"<td>.*?</td><td>1</td>", client.get("/admin/runs").text, re.S)
