"""`badge-bridge demo`: the whole pipeline on the embedded default, for real, on loopback.

Sandbox platform → Moodle connector → rules → OB 2.0 baked PNG → SMTP → web app; and a meetup:
one participant checks in by its QR code's URL (over HTTP, as a phone would) before the run,
which awards the meetup badge with the session as evidence and pushes the presence to Moodle.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bridge.config import Config
from bridge.delivery.catcher import MailCatcher
from bridge.issuing.files import write_award_files
from bridge.issuing.urls import Urls
from bridge.store import Award, MeetupSession, Store

from .common import load

if TYPE_CHECKING:
    from bridge.meetups.desk import Desk
    from jobs.run import RunReport

__all__ = ["DemoResult", "run_demo", "demo_rules_dir", "write_demo_config"]


def demo_rules_dir() -> Path:
    return Path(str(files("badge_rules"))) / "examples" / "demo"


def write_demo_config(path: Path, *, data_dir: Path, port: int, sandbox_url: str, token: str,
                      smtp_port: int, push: bool = True) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # The demo's meetup is on now (in the config's zone, Paris): its check-in page is open.
    start = datetime.now(UTC).astimezone(ZoneInfo("Europe/Paris")) - timedelta(minutes=30)
    path.write_text(f'''# Written by `badge-bridge demo`: the config of the demo run.
# `badge-bridge serve --config {path}` serves the same awards again.
[bridge]
public_url = "http://127.0.0.1:{port}"
data_dir = "{data_dir.resolve()}"
rules_dir = "{demo_rules_dir()}"
default_language = "fr"

[issuer]
name = "Tiers-lieu numérique — démo badge-bridge"
url = "http://127.0.0.1:{port}/"
email = "badges@example.org"
description = "Micro-certificats des parcours hybrides de formation des enseignants (démonstration)."

[smtp]
host = "127.0.0.1"
port = {smtp_port}
from_address = "badges@example.org"
from_name = "badge-bridge (démo)"

[web]
host = "127.0.0.1"
port = {port}

# The built-in sandbox platform, speaking Moodle's REST dialect. Its token is a
# throw-away value of this demo; a real source takes it from the environment:
# token = {{ env = "BADGE_BRIDGE_MOODLE_TOKEN" }}
[sources.sandbox]
kind = "moodle"
url = "{sandbox_url}"
token = "{token}"
courses = ["42"]

# Meetups: check-in by QR code at the sessions below (and those created with
# `badge-bridge meetups create`); each check-in is a presence of this source.
[sources.rencontres]
kind = "meetups"
tags = ["temps-de-rencontre"]

[[sources.rencontres.sessions]]
id = "{MEETUP_ID}"
title = "Temps de rencontre — projets SNT en classe"
place = "Tiers-lieu La Fabrique"
town = "Nice"
start = {start:%Y-%m-%dT%H:%M:00}
end = {start + timedelta(hours=3):%Y-%m-%dT%H:%M:00}
course = "42"
''' + (_PUSH if push else ""), encoding="utf-8")


_PUSH = '''
# Presence at a meetup, once recorded in the attendance module, is pushed back: the
# in-person activity (cmid 503) is marked complete, so Moodle's own completion counts it.
[[sources.sandbox.push]]
session = "*"
to = "sandbox"
course = "42"
target = "completion:503"

# A check-in at a meetup marks the same activity complete.
[[sources.rencontres.push]]
to = "sandbox"
course = "42"
target = "completion:503"
'''
MEETUP_ID = "rencontre-demo"


@dataclass
class DemoResult:
    config: Config
    learners: int
    new_awards: int
    total_awards: int
    emails_sent: int
    pushes: int
    verify_url: str | None
    organiser_url: str
    checked_in: tuple[str, str]  # who checked in by the QR code, and what the page answered
    report: RunReport
    world: Any  # the sandbox platform's state after the run, the truth to check against


def run_demo(data_dir: Path, *, port: int = 8000, output: Path | None = None,
             learners: int = 40, seed: int = 7) -> DemoResult:
    from jobs.run import run_sync
    from sandbox import SandboxPlatform

    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    mail_dir = (output / "mail") if output else (data_dir / "mail")
    with SandboxPlatform("moodle", learners=learners, seed=seed, profile="demo") as sandbox:
        catcher = MailCatcher(mail_dir).start()
        try:
            cfg_path = (output or data_dir) / "demo.toml"
            write_demo_config(cfg_path, data_dir=data_dir, port=port, sandbox_url=sandbox.base_url,
                              token=sandbox.token, smtp_port=catcher.port)
            config = load(cfg_path)
            store = Store(config.bridge.db_url, keys_dir=config.bridge.keys_path)
            try:
                organiser_url, checked_in = _scripted_check_in(config, store, sandbox.world)
                report = run_sync(config, store, trigger="demo")
                awarded, sent = report.awarded, report.emails.sent
                counts = store.counts()
                awards = [listed.award for listed in store.awards.listing()]
                pushes = [i for i in store.outbox.items("push") if i.status == "sent"]
                world = sandbox.world
                if output:
                    _write_badges(config, store, awards, output / "badges")
            finally:
                store.close()
        finally:
            catcher.stop()
    urls = Urls(config.bridge.public_url)
    return DemoResult(config=config, learners=counts["learners"], new_awards=awarded,
                      total_awards=len(awards), emails_sent=sent, pushes=len(pushes),
                      verify_url=urls.verify_page(awards[0].id) if awards else None,
                      organiser_url=organiser_url, checked_in=checked_in, report=report, world=world)


def _scripted_check_in(config: Config, store: Store, world: Any) -> tuple[str, tuple[str, str]]:
    """One participant checks in at the demo's meetup as a phone would: the QR code's URL, the
    form, the confirmation, over HTTP on a web server of its own. They are a learner who did the
    course's online modules but has no presence yet, so the push completes their course."""
    import requests

    from bridge.meetups.desk import Desk
    from bridge.web.server import BackgroundServer, free_port
    from jobs.meetups import refresh_sessions

    refresh_sessions(config, store)
    session = store.meetups.get(MEETUP_ID)
    assert session is not None
    desk = Desk(config, store)
    course = world.course(42)
    who = next(u for u in world.enrolled(42) if u.email and not world.attended(u, course)
               and world.activity_completed(u, course, 501) and world.activity_completed(u, course, 502))
    port = free_port()
    server = BackgroundServer(config, store, "127.0.0.1", port).start()
    try:
        outcome = _check_in(desk, session, f"http://127.0.0.1:{port}", who.email, requests.Session())
    finally:
        server.stop()
    return desk.organiser_url(session), (who.email, outcome)


def _check_in(desk: Desk, session: MeetupSession, base: str, email: str, phone: Any) -> str:
    url = desk.checkin_url(session, datetime.now(UTC)).replace(desk.config.bridge.public_url, base)
    form = phone.get(url, timeout=30)
    for step in ("email", "confirm"):
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        form = phone.post(form.url, data={"csrf": token.group(1) if token else "", "email": email,
                                          "step": step}, timeout=30)
    found = re.search(r'data-(?:outcome|reason)="([a-z_]+)"', form.text)
    return found.group(1) if found else f"HTTP {form.status_code}"


def _write_badges(config: Config, store: Store, awards: list[Award], out: Path) -> None:
    """badges/<id>.png and .svg (OB 2.0, baked), badges/ob3/<id>.json and .png (OB 3.0)."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for award in awards:
        write_award_files(config, store, award, out)
