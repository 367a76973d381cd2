"""The whole pipeline on the embedded default: sandbox → sync → rules → baked badge → email → web.

Everything real on loopback: the sandbox platform over HTTP, SQLite, SMTP (aiosmtpd), uvicorn.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from bridge.delivery.catcher import MailCatcher
from bridge.issuing.bake import unbake_png
from bridge.store import Store
from bridge.web.server import BackgroundServer, free_port
from cli import main
from cli.demo import demo_rules_dir, run_demo, write_demo_config
from connectors.registry import load as load_config
from jobs.run import run_sync
from sandbox import SandboxPlatform


def expected_emails(world) -> set[str]:
    """Who the demo rule selects, computed from the platform's own truth, not from our code."""
    course = world.course(42)
    return {p.email.lower() for p in world.enrolled(42)
            if p.email and world.course_completed(p, course) and world.activity_completed(p, course, 503)}


@pytest.fixture
def platform():
    with SandboxPlatform("moodle", learners=40, seed=7, profile="demo") as sandbox:
        yield sandbox


@pytest.fixture
def mailbox(tmp_path):
    catcher = MailCatcher(tmp_path / "mail").start()
    yield catcher
    catcher.stop()


@pytest.fixture
def config(tmp_path, platform, mailbox):
    path = tmp_path / "bridge.toml"
    write_demo_config(path, data_dir=tmp_path / "state", port=free_port(),
                      sandbox_url=platform.base_url, token=platform.token, smtp_port=mailbox.port,
                      push=False)
    return load_config(path)


def test_demo_awards_exactly_the_selected_learners_and_everything_verifies(tmp_path):
    port = free_port()
    out = tmp_path / "out"
    result = run_demo(tmp_path / "state", port=port, output=out)
    with SandboxPlatform("moodle", learners=40, seed=7, profile="demo") as same_seed:
        before_pushes = expected_emails(same_seed.world)
    # The platform's own truth after the run: presences pushed back completed more courses.
    wanted = expected_emails(result.world)
    assert 5 <= len(before_pushes) < len(wanted) < 40
    assert result.pushes > 0
    # The pushes' read-back completed courses: the run's steps went round once more for them.
    assert result.report.rounds == 2 and result.report.pushes.read_back > 0
    store = Store(result.config.bridge.db_url)
    awarded = {a.email for a in store.awards.listing(badge_id="snt-hybride")}
    assert awarded == wanted
    # The demo's meetup: one check-in by the QR code's URL, awarded with the session as evidence,
    # and pushed back, which completed that learner's course too.
    participant, outcome = result.checked_in
    assert outcome == "checked_in" and result.organiser_url.startswith(f"http://127.0.0.1:{port}/o/")
    [meetup] = store.awards.listing(badge_id="rencontre-snt")
    assert meetup.email == participant and participant in wanted and participant not in before_pushes
    assert [(p["source"], p["item"]) for p in meetup.award.provenance] == [("rencontres", "rencontre-demo")]
    total = len(wanted) + 1
    assert result.new_awards == result.emails_sent == total

    pngs = sorted((out / "badges").glob("*.png"))
    assert len(pngs) == total
    assert len(list((out / "badges").glob("*.svg"))) == total
    assert len(list((out / "badges" / "ob3").glob("*.json"))) == total
    server = BackgroundServer(result.config, store, "127.0.0.1", port).start()
    try:
        for png in pngs:
            assertion = json.loads(unbake_png(png.read_bytes()))
            served = requests.get(assertion["id"], timeout=5)
            assert served.status_code == 200 and served.json() == assertion
            badge = requests.get(assertion["badge"], timeout=5).json()
            assert badge["type"] == "BadgeClass" and badge["id"] == assertion["badge"]
            issuer = requests.get(badge["issuer"], timeout=5).json()
            assert issuer["type"] == "Issuer"
            assert requests.get(badge["image"], timeout=5).headers["content-type"] == "image/png"
            page = requests.get(f"http://127.0.0.1:{port}/v/{png.stem}", timeout=5)
            assert page.status_code == 200 and "Valide" in page.text
    finally:
        server.stop()

    mails = sorted((out / "mail").glob("*.eml"))
    assert len(mails) == total
    from email import message_from_bytes, policy

    for raw in mails:
        msg = message_from_bytes(raw.read_bytes(), policy=policy.default)
        award_id = msg["X-Badge-Bridge-Award"]
        attachment = next(p for p in msg.iter_attachments() if p.get_filename())
        baked = json.loads(unbake_png(attachment.get_content()))
        assert baked["id"].endswith(f"/ob2/assertions/{award_id}")
        assert (out / "badges" / f"{award_id}.png").read_bytes() == attachment.get_content()
        assert msg.get_body(("plain",)) is not None and msg.get_body(("html",)) is not None
        to = msg["To"].addresses[0].addr_spec.lower()
        lang = store.facts.learner_by_email(to).lang
        assert f'<html lang="{lang}"' in msg.get_body(("html",)).get_content()
        assert ("Bonjour" if lang == "fr" else "Hello") in msg.get_body(("plain",)).get_content()

    again = run_demo(tmp_path / "state", port=port, output=tmp_path / "out2")
    assert (again.new_awards, again.emails_sent, again.total_awards) == (0, 0, total)
    assert again.checked_in == (participant, "already")


def test_running_the_same_sync_twice_issues_and_sends_nothing_the_second_time(config, platform, mailbox):
    store = Store(config.bridge.db_url)
    first = run_sync(config, store)
    assert first.awarded == len(expected_emails(platform.world)) > 0
    assert first.emails.sent == first.awarded
    second = run_sync(config, store)
    assert second.awarded == 0 and second.emails.sent == 0
    assert second.sources["sandbox"].new_facts == 0
    assert len(mailbox.raw) == first.awarded


def test_sync_interrupted_before_delivery_resumes_and_delivers_each_email_once(config, platform, mailbox):
    store = Store(config.bridge.db_url)
    cut = run_sync(config, store, steps=("pull", "evaluate", "issue"))
    assert cut.awarded > 0 and mailbox.raw == []
    pending = [i for i in store.outbox.items("email") if i.status == "pending"]
    assert len(pending) == cut.awarded
    resumed = run_sync(config, store)
    assert resumed.awarded == 0 and resumed.emails.sent == cut.awarded
    run_sync(config, store)
    ids = [m["X-Badge-Bridge-Award"] for m in mailbox.messages]
    assert sorted(ids) == sorted(set(ids)) and len(ids) == cut.awarded


def test_a_crash_in_the_middle_of_delivery_leaves_the_rest_for_the_next_run(config, platform, mailbox,
                                                                           monkeypatch):
    from bridge.delivery.mail import Mailer

    store = Store(config.bridge.db_url)
    run_sync(config, store, steps=("pull", "evaluate", "issue"))
    real_send, calls = Mailer.send_bytes, []

    def send_then_crash(self, *message):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt  # the process is stopped while sending the third email
        real_send(self, *message)

    monkeypatch.setattr(Mailer, "send_bytes", send_then_crash)
    with pytest.raises(KeyboardInterrupt):
        run_sync(config, store, steps=("deliver",))
    monkeypatch.setattr(Mailer, "send_bytes", real_send)
    assert len(mailbox.raw) == 2
    # The interrupted item is leased; it becomes due again when its lease ends.
    from datetime import UTC, datetime, timedelta

    later = datetime.now(UTC) + timedelta(minutes=11)
    items = store.outbox.claim("email", limit=1000, now=later)
    for item in items:
        store.outbox.retry(item.id, "requeued by test", later - timedelta(minutes=20))
    run_sync(config, store, steps=("deliver",))
    ids = [m["X-Badge-Bridge-Award"] for m in mailbox.messages]
    assert len(ids) == len(set(ids)) == len(expected_emails(platform.world))


def _process(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`badge-bridge ARGS` as a real process: the console entry, exit codes and stderr as a shell sees them."""
    return subprocess.run([sys.executable, "-m", "cli", *args], capture_output=True, text=True,
                          timeout=timeout)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The same command run in this process (CliRunner): the CLI's logic without a Python start-up."""
    result = CliRunner(catch_exceptions=False).invoke(main, list(args))
    return subprocess.CompletedProcess(list(args), result.exit_code, result.stdout, result.stderr)


def test_malformed_rules_file_gives_one_line_with_file_and_line_and_writes_nothing(tmp_path, config):
    rules = tmp_path / "rules"
    shutil.copytree(demo_rules_dir(), rules)
    bad = rules / "snt-hybride.toml"
    text = bad.read_text(encoding="utf-8")
    bad.write_text(text.replace("course_completed", "course_complete", 1), encoding="utf-8")
    line = next(i for i, row in enumerate(bad.read_text().splitlines(), 1) if "course_complete" in row)
    cfg = Path(config.file)
    cfg.write_text(cfg.read_text().replace(f'rules_dir = "{demo_rules_dir()}"', f'rules_dir = "{rules}"'))
    proc = _process("sync", "--config", str(cfg), "--once")
    assert proc.returncode == 3
    errors = proc.stderr.strip().splitlines()
    # The demo config's default_language is fr: the command speaks French around the diagnostic.
    assert len(errors) == 1 and errors[0].startswith(f"erreur\u00a0: {bad}:{line}: ")
    assert not (tmp_path / "state" / "bridge.db").exists()


def test_malformed_config_gives_one_line_with_key_and_line_and_writes_nothing(tmp_path, config):
    cfg = Path(config.file)
    cfg.write_text(cfg.read_text().replace('courses = ["42"]', 'courses = ["42"]\nparallel = 0'))
    line = cfg.read_text().splitlines().index("parallel = 0") + 1
    proc = _cli("sync", "--config", str(cfg), "--once")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"error: {cfg}:{line}: sources.sandbox.parallel: Input should be greater than or equal to 1"]
    assert not (tmp_path / "state").exists()


def test_awards_list_prints_one_json_object_per_award(config, platform, mailbox):
    store = Store(config.bridge.db_url)
    report = run_sync(config, store)
    proc = _cli("awards", "list", "--config", str(config.file), "--json")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(rows) == report.awarded
    assert {r["email"] for r in rows} == expected_emails(platform.world)
    assert set(rows[0]) == {"id", "email", "badge", "issued_at", "status", "delivery"}
    assert {r["status"] for r in rows} == {"valid"}


def test_rules_explain_says_why_a_learner_has_or_has_not_the_badge(config, platform, mailbox):
    store = Store(config.bridge.db_url)
    run_sync(config, store)
    winners = expected_emails(platform.world)
    course = platform.world.course(42)
    loser = next(p for p in platform.world.enrolled(42)
                 if p.email and p.email.lower() not in winners and world_done(platform.world, p, course))
    for email, awarded in ((sorted(winners)[0], True), (loser.email, False)):
        proc = _cli("rules", "explain", email, "snt-hybride", "--config", str(config.file), "--json")
        assert proc.returncode == 0, proc.stderr
        doc = json.loads(proc.stdout)
        assert doc["awarded"] is awarded
        assert len(doc["awards"]) == (1 if awarded else 0)
    text = _cli("rules", "explain", loser.email, "snt-hybride", "--config", str(config.file),
                "--lang", "en").stdout
    assert "NOT AWARDED" in text and "✗" in text


def world_done(world, person, course) -> bool:
    """Has done part of the hybrid course: the interesting 'why not?' case."""
    return world.course_completed(person, course) or world.activity_completed(person, course, 503)


def test_rule_edit_never_revokes_silently_dry_run_lists_what_it_would_no_longer_grant(
        tmp_path, config, platform, mailbox):
    store = Store(config.bridge.db_url)
    first = run_sync(config, store)
    rules = tmp_path / "rules"
    shutil.copytree(demo_rules_dir(), rules)
    rule = rules / "snt-hybride.toml"
    # The new version also asks for activity 502 with a grade the platform never reports.
    text = rule.read_text(encoding="utf-8")
    assert "[condition]" in text
    rule.write_text(text.replace("all = [", 'all = [\n  { grade = { source = "sandbox", course = "42", ">=" = 0.99 } },', 1),
                    encoding="utf-8")
    cfg = Path(config.file)
    cfg.write_text(cfg.read_text().replace(f'rules_dir = "{demo_rules_dir()}"', f'rules_dir = "{rules}"'))
    runs_before = len(store.runs.last(100))
    proc = _cli("sync", "--config", str(cfg), "--dry-run", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["would_award"] == []
    assert len(out["no_longer_granted"]) == first.awarded
    assert len(store.runs.last(100)) == runs_before  # the dry run wrote no run
    assert {a.award.status for a in store.awards.listing()} == {"issued"}
    # A real run with the new version does not revoke either.
    report = run_sync(load_config(cfg), store)
    assert report.awarded == 0 and {a.award.status for a in store.awards.listing()} == {"issued"}


def test_daemon_runs_on_schedule_and_a_second_run_adds_nothing(config, platform, mailbox):
    proc = _process("daemon", "--config", str(config.file), "--every", "10", "--max-runs", "2")
    assert proc.returncode == 0, proc.stderr
    assert "arrêté après 2 exécutions" in proc.stdout
    store = Store(config.bridge.db_url)
    runs = store.runs.last(10)
    assert [r.trigger for r in runs] == ["schedule", "schedule"]
    assert runs[0].stats["awarded"] == 0 and runs[1].stats["awarded"] > 0
    assert len(mailbox.raw) == runs[1].stats["awarded"]


def test_awards_show_and_resend_send_the_same_badge_again(config, platform, mailbox):
    store = Store(config.bridge.db_url)
    run_sync(config, store)
    award = store.awards.listing()[0].award
    shown = json.loads(_cli("awards", "show", award.id, "--config", str(config.file)).stdout)
    assert shown["validity"] == "valid" and shown["deliveries"][0]["status"] == "sent"
    before = len(mailbox.raw)
    proc = _cli("awards", "resend", award.id, "--config", str(config.file))
    assert proc.returncode == 0, proc.stderr
    assert len(mailbox.raw) == before + 1
    assert mailbox.messages[-1]["X-Badge-Bridge-Award"] == award.id
    proc = _cli("awards", "revoke", award.id, "--reason", "erreur de saisie", "--config", str(config.file))
    assert proc.returncode == 0 and proc.stdout == "révoquée\n"
    assert _cli("awards", "resend", award.id, "--config", str(config.file)).returncode == 1
    # The next run tells the learner, once, answering the award's email (its Message-ID is
    # kept with the award, on the public host's domain).
    run_sync(config, store)
    run_sync(config, store)
    notices = [m for m in mailbox.messages if m["X-Badge-Bridge-Award"] == award.id
               and m["In-Reply-To"]]
    assert len(notices) == 1 and "erreur de saisie" in notices[0].get_body(("plain",)).get_content()
    assert notices[0]["In-Reply-To"] == store.awards.get(award.id).message_id == (
        f"<award-{award.id}@127.0.0.1>")
    shown = json.loads(_cli("awards", "show", award.id, "--config", str(config.file)).stdout)
    assert [(d["kind"], d["status"]) for d in shown["deliveries"]] == [("award", "sent"),
                                                                       ("revocation", "sent")]


def test_erasing_a_learner_revokes_strips_and_keeps_them_out_of_later_syncs(config, platform, mailbox):
    store = Store(config.bridge.db_url)
    run_sync(config, store)
    award, email = store.awards.listing()[0]
    proc = _cli("learners", "erase", email, "--yes", "--config", str(config.file))
    assert proc.returncode == 0, proc.stderr
    assert "1 attribution révoquée" in proc.stdout
    assert store.facts.learner_by_email(email) is None
    erased = store.awards.get(award.id)
    assert erased.status == "revoked" and erased.recipient_email is None
    assert erased.recipient_name is None and erased.provenance == []
    port = free_port()
    server = BackgroundServer(config, store, "127.0.0.1", port).start()
    try:
        hosted = requests.get(f"http://127.0.0.1:{port}/ob2/assertions/{award.id}", timeout=5)
        assert hosted.status_code == 410 and hosted.json()["revoked"] is True
        assert email not in hosted.text
        png = requests.get(f"http://127.0.0.1:{port}/ob2/assertions/{award.id}/badge.png", timeout=5)
        assert png.status_code == 410
        page = requests.get(f"http://127.0.0.1:{port}/v/{award.id}", timeout=5)
        assert page.status_code == 200 and "Révoqué" in page.text and email not in page.text
    finally:
        server.stop()
    learners_before = store.counts()["learners"]
    report = run_sync(config, store)
    assert store.facts.learner_by_email(email) is None
    assert store.counts()["learners"] == learners_before
    assert report.awarded == 0
    assert email not in {a.email for a in store.awards.listing()}


def test_admin_api_needs_the_token_and_lists_runs_awards_and_revokes(tmp_path, config, platform, mailbox,
                                                                    monkeypatch):
    cfg = Path(config.file)
    cfg.write_text(cfg.read_text().replace("[web]", '[web]\nadmin_token = { env = "TEST_ADMIN_TOKEN" }'))
    monkeypatch.setenv("TEST_ADMIN_TOKEN", "adm1n-s3cret")
    config = load_config(cfg)
    store = Store(config.bridge.db_url)
    run_sync(config, store)
    port = free_port()
    server = BackgroundServer(config, store, "127.0.0.1", port).start()
    base, auth = f"http://127.0.0.1:{port}/api/admin", {"Authorization": "Bearer adm1n-s3cret"}
    try:
        assert requests.get(f"{base}/runs", timeout=5).status_code == 401
        assert requests.get(f"{base}/runs", headers={"Authorization": "Bearer nope"}, timeout=5).status_code == 401
        runs = requests.get(f"{base}/runs", headers=auth, timeout=5).json()
        assert runs[0]["status"] == "ok" and runs[0]["errors"] == []
        awards = requests.get(f"{base}/awards", headers=auth, timeout=5).json()
        assert {a["email"] for a in awards} == expected_emails(platform.world)
        target = awards[0]["id"]
        bad = requests.post(f"{base}/awards/{target}/revoke", json={}, headers=auth, timeout=5)
        assert bad.status_code == 400
        ok = requests.post(f"{base}/awards/{target}/revoke", json={"reason": "doublon"}, headers=auth, timeout=5)
        assert ok.json() == {"revoked": True}
        assert store.awards.get(target).revocation_reason == "doublon"
        hosted = requests.get(f"http://127.0.0.1:{port}/ob2/assertions/{target}", timeout=5)
        assert hosted.status_code == 410
    finally:
        server.stop()


def test_without_an_admin_token_there_is_no_admin_api(config, platform, mailbox):
    store = Store(config.bridge.db_url)
    port = free_port()
    server = BackgroundServer(config, store, "127.0.0.1", port).start()
    try:
        assert requests.get(f"http://127.0.0.1:{port}/api/admin/runs", timeout=5).status_code == 404
    finally:
        server.stop()


def test_one_source_down_is_recorded_and_the_others_carry_on(config, platform, mailbox):
    cfg = Path(config.file)
    cfg.write_text(cfg.read_text() + f'''
[sources.moodle-down]
kind = "moodle"
url = "http://127.0.0.1:{free_port()}"
token = "t"
courses = ["7"]
retries = 1
backoff = 0
''')
    proc = _cli("sync", "--config", str(cfg), "--once")
    assert proc.returncode == 4  # the run finished, partially
    assert "erreur\u00a0: source moodle-down core_webservice_get_site_info: connection failed" in proc.stderr
    store = Store(load_config(cfg).bridge.db_url)
    assert {a.email for a in store.awards.listing()} == expected_emails(platform.world)
    last = store.runs.last(1)[0]
    assert last.status == "partial"
    assert [e.source for e in store.runs.errors(last.id)] == ["moodle-down"]


def test_a_badge_newly_granted_by_a_rule_edit_unlocks_the_pathway_badge_in_the_same_run(
        tmp_path, config, platform, mailbox):
    rules = tmp_path / "rules"
    shutil.copytree(demo_rules_dir(), rules)
    base = rules / "snt-hybride.toml"
    text = base.read_text(encoding="utf-8")
    # First version: an impossible grade, so nobody holds the base badge.
    base.write_text(text.replace(
        "all = [", 'all = [\n  { not = { enrolled = { source = "sandbox", course = "42" } } },', 1),
        encoding="utf-8")
    (rules / "parcours.toml").write_text('''[badge]
id = "parcours"
name = { fr = "Parcours", en = "Pathway" }
description = { fr = "Détient le badge SNT hybride.", en = "Holds the hybrid SNT badge." }

[condition]
badge_held = { badge = "snt-hybride" }
''', encoding="utf-8")
    cfg = Path(config.file)
    cfg.write_text(cfg.read_text().replace(f'rules_dir = "{demo_rules_dir()}"', f'rules_dir = "{rules}"'))
    store = Store(config.bridge.db_url)
    first = run_sync(load_config(cfg), store)
    assert first.awarded == 0
    base.write_text(text, encoding="utf-8")  # the edit: back to the real rule
    second = run_sync(load_config(cfg), store)
    by_badge = {}
    for a in store.awards.listing():
        by_badge.setdefault(a.award.badge_id, set()).add(a.email)
    assert by_badge["snt-hybride"] == expected_emails(platform.world)
    assert by_badge["parcours"] == by_badge["snt-hybride"]
    assert second.awarded == 2 * len(by_badge["snt-hybride"])
