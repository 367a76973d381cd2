"""Runs that tell the truth, end to end on the sandbox platform, SQLite and real processes.

The mail server down makes a run partial (exit 5) with its failures grouped by reason in
`runs show`; a run killed with SIGKILL shows as interrupted and the next run says it took its
work over; a dry run leaves the data folder as it was (hash before and after); `config check`
names a misspelt push target with "did you mean".
"""

from __future__ import annotations

import hashlib
import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from bridge.delivery.catcher import MailCatcher
from bridge.store import NewOutboxItem, Store
from bridge.web.server import free_port
from cli import main
from cli.demo import write_demo_config
from connectors.registry import load as load_config
from jobs.run import run_sync
from sandbox import SandboxPlatform


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    result = CliRunner(catch_exceptions=False).invoke(main, list(args))
    return subprocess.CompletedProcess(list(args), result.exit_code, result.stdout, result.stderr)


def folder_hash(folder: Path) -> dict[str, str]:
    """Every file under `folder` (names and contents); empty when it does not exist."""
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def platform():
    with SandboxPlatform("moodle", learners=40, seed=7, profile="demo") as sandbox:
        yield sandbox


def closed_port() -> int:
    """A loopback port nothing listens on (the mail server is down)."""
    return free_port()


def demo_config(tmp_path: Path, platform: SandboxPlatform, smtp_port: int, **kw: object) -> Path:
    path = tmp_path / "bridge.toml"
    write_demo_config(path, data_dir=tmp_path / "state", port=free_port(),
                      sandbox_url=platform.base_url, token=platform.token, smtp_port=smtp_port,
                      push=bool(kw.get("push", False)))
    return path


def test_mail_server_down_makes_the_run_partial_exit_5_and_runs_show_groups_the_failures(
        tmp_path, platform):
    path = demo_config(tmp_path, platform, closed_port())
    synced = cli("sync", "--config", str(path))
    assert synced.returncode == 5, synced.stderr
    config = load_config(path)
    store = Store(config.bridge.db_url)
    [run] = store.runs.list(1)
    awarded = run.stats["awarded"]
    assert awarded > 0 and run.status == "partial"
    assert run.stats["emails"]["sent"] == 0 and run.stats["emails"]["retry"] == awarded
    assert run.stats["failures"] == {"email": {"smtp_unreachable": awarded}}
    [line] = store.runs.errors(run.id)  # one line for all the emails, with its count
    assert (line.step, line.reason, line.count, line.source) == ("email", "smtp_unreachable", awarded, "smtp")

    shown = cli("--lang", "en", "runs", "show", str(run.id), "--config", str(path))
    assert shown.returncode == 0, shown.stderr
    assert f"run {run.id}: partial" in shown.stdout
    assert f"email: smtp_unreachable {awarded}" in shown.stdout
    assert "[email] smtp smtp://127.0.0.1:" in shown.stdout and f"×{awarded}" in shown.stdout
    assert "core_enrol_get_enrolled_users" in shown.stdout  # what was fetched, by endpoint
    (tmp_path / "runs-show-partial.txt").write_text(shown.stdout)
    as_json = json.loads(cli("runs", "show", str(run.id), "--json", "--config", str(path)).stdout)
    assert as_json["status"] == "partial" and as_json["error_lines"][0]["count"] == awarded
    listed = cli("--lang", "en", "runs", "list", "--config", str(path)).stdout
    assert listed.startswith(f"{run.id}  partial") and f"emails not delivered {awarded}" in listed

    # Each award says its email is still queued; none is "sent".
    rows = [json.loads(r) for r in cli("awards", "list", "--json", "--config", str(path)).stdout.splitlines()]
    assert len(rows) == awarded and {r["delivery"] for r in rows} == {"queued"}

    # The mail server is back and the emails are due: the next run sends them and is ok.
    catcher = MailCatcher(tmp_path / "mail").start()
    try:
        text = path.read_text().replace(f"port = {config.smtp.port}\n", f"port = {catcher.port}\n")
        path.write_text(text)
        store.outbox.make_due([i.id for i in store.outbox.items("email")])
        again = cli("sync", "--config", str(path))
        assert again.returncode == 0, again.stderr
        assert len(catcher.raw) == awarded
    finally:
        catcher.stop()
    assert store.runs.list(1)[0].status == "ok"
    rows = [json.loads(r) for r in cli("awards", "list", "--json", "--config", str(path)).stdout.splitlines()]
    assert {r["delivery"] for r in rows} == {"sent"}


def test_a_refused_push_and_an_undelivered_email_together_exit_4():
    from bridge.model import RunError
    from jobs.run import RunReport

    report = RunReport(1)
    report.emails.retry = 3
    assert report.exit_code() == 5
    report.pushes.refused = 1
    assert report.exit_code() == 4
    only_source = RunReport(2, errors=[RunError("m", "core_x", 500, None, None, "down")])
    assert only_source.exit_code() == 4
    only_email = RunReport(3, errors=[RunError("smtp", "smtp://h:25", None, "smtp_auth", None,
                                               "auth", step="email", reason="smtp_auth")])
    assert only_email.exit_code() == 5


def _hanging_server() -> socket.socket:
    """A platform that takes connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    return sock


def test_a_killed_run_shows_as_interrupted_and_the_next_run_takes_its_work_over(tmp_path, platform):
    hang = _hanging_server()
    catcher = MailCatcher(tmp_path / "mail").start()
    try:
        path = demo_config(tmp_path, platform, catcher.port)
        good = path.read_text()
        path.write_text(good.replace(platform.base_url, f"http://127.0.0.1:{hang.getsockname()[1]}"))
        config = load_config(path)
        store = Store(config.bridge.db_url)
        proc = subprocess.Popen([sys.executable, "-m", "cli", "sync", "--config", str(path)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            for _ in range(600):  # until the run is recorded (it then waits on the platform)
                if store.runs.list(1):
                    break
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                time.sleep(0.1)
            [running] = store.runs.list(1)
            assert running.status == "running" and running.pid == proc.pid
            # An email the killed run had leased, its lease far from over.
            store.outbox.add([NewOutboxItem(key="email:orphan", channel="test", payload={})])
            [item] = store.outbox.claim("test", run_id=running.id)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        [killed] = store.runs.list(1)
        assert killed.status == "interrupted"  # not "running" forever: its process is gone
        assert "interrupted" in cli("--lang", "en", "runs", "list", "--config", str(path)).stdout
        assert store.outbox.claim("test") == []  # still leased until a run takes it over

        path.write_text(good)
        synced = cli("--lang", "en", "sync", "--config", str(path))
        assert synced.returncode == 0, synced.stderr
        assert f"this run finishes the work of interrupted run {killed.id}" in synced.stdout
        latest, before = store.runs.list(2)
        assert before.status == "interrupted" and latest.resumed == [killed.id]
        assert latest.stats["awarded"] > 0
        shown = cli("--lang", "en", "runs", "show", str(latest.id), "--config", str(path)).stdout
        assert f"finished the work of interrupted run {killed.id}" in shown
        # Its lease was freed by the new run: the item is due now, not in ten minutes.
        assert [i.id for i in store.outbox.claim("test")] == [item.id]
    finally:
        catcher.stop()
        hang.close()


def test_the_heartbeat_decides_for_a_run_on_another_host(tmp_path):
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from bridge.store.schema import runs

    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    run = store.runs.begin(["m"])
    with store.engine.begin() as conn:
        conn.execute(update(runs).where(runs.c.id == run).values(host="elsewhere", pid=1))
    assert store.runs.get(run).status == "running"  # a fresh heartbeat: alive
    with store.engine.begin() as conn:
        conn.execute(update(runs).where(runs.c.id == run).values(
            heartbeat_at=datetime.now(UTC) - timedelta(minutes=5)))
    assert store.runs.get(run).status == "interrupted"
    assert store.runs.status_counts() == {"interrupted": 1, "running": 0}
    assert store.runs.begin(["m"]) and store.runs.list(2)[0].resumed == [run]


def test_dry_run_pulls_and_reports_the_awards_and_leaves_the_data_folder_untouched(tmp_path, platform):
    catcher = MailCatcher(tmp_path / "mail").start()
    try:
        path = demo_config(tmp_path, platform, catcher.port)
        state = tmp_path / "state"
        before = folder_hash(state)
        dry = cli("sync", "--dry-run", "--json", "--config", str(path))
        assert dry.returncode == 0, dry.stderr
        assert folder_hash(state) == before  # no database file, nothing written
        would = json.loads(dry.stdout)["would_award"]
        assert would and json.loads(dry.stdout)["sources"]["sandbox"]["requests"] > 0

        config = load_config(path)
        store = Store(config.bridge.db_url)
        report = run_sync(config, store)
        made = {(a.email, a.award.badge_id) for a in store.awards.listing()}
        assert {(w["email"], w["badge"]) for w in would} == made and report.awarded == len(made)
        store.close()

        # Against the existing store: read-only, nothing left to award, not a byte changed.
        before = folder_hash(state)
        again = cli("sync", "--dry-run", "--config", str(path))
        assert again.returncode == 0, again.stderr
        assert folder_hash(state) == before
        assert not [p for p in state.rglob("*") if p.name.endswith(("-wal", "-shm", "-journal"))]
    finally:
        catcher.stop()


def test_config_check_names_a_misspelt_push_target_and_every_other_problem(tmp_path, platform):
    path = demo_config(tmp_path, platform, closed_port(), push=True)
    text = path.read_text().replace('to = "sandbox"', 'to = "sandbx"')
    path.write_text(text)
    checked = cli("--lang", "en", "config", "check", str(path))
    assert checked.returncode == 2
    lines = [ln for ln in checked.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 2  # both routes, at once
    assert all("push[0].to: no source 'sandbx' to push to (did you mean 'sandbox'?)" in ln for ln in lines)
    # A course no source has, and a rules folder that is not there, also at once.
    rules = tmp_path / "rules"
    import shutil

    from cli.demo import demo_rules_dir

    shutil.copytree(demo_rules_dir(), rules)
    for rule in rules.glob("*.toml"):
        rule.write_text(rule.read_text().replace('course = "42"', 'course = "43"'))
    path.write_text(text.replace(f'rules_dir = "{demo_rules_dir()}"', f'rules_dir = "{rules}"'))
    checked = cli("--lang", "en", "config", "check", str(path))
    assert checked.returncode == 2
    assert "sandbx" in checked.stderr and "43" in checked.stderr


def test_config_check_masks_the_database_password(tmp_path, platform):
    path = demo_config(tmp_path, platform, closed_port())
    text = path.read_text().replace("[bridge]\n", '[bridge]\ndatabase_url = "postgresql://bb:s3cret-pw@db.example:5432/bb"\n')
    path.write_text(text)
    checked = cli("config", "check", str(path))
    assert "s3cret-pw" not in checked.stdout + checked.stderr
    assert checked.returncode == 0 and "postgresql://bb:***@db.example:5432/bb" in checked.stdout
