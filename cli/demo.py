"""`badge-bridge demo`: the whole pipeline on the embedded default, for real, on loopback.

Sandbox platform → Moodle connector → rules → OB 2.0 baked PNG → SMTP → web app.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bridge.config import Config
from bridge.delivery.catcher import MailCatcher
from bridge.issuing.files import write_award_files
from bridge.issuing.urls import Urls
from bridge.store import Award, Store

from .common import load

if TYPE_CHECKING:
    from jobs.run import RunReport

__all__ = ["DemoResult", "run_demo", "demo_rules_dir", "write_demo_config"]


def demo_rules_dir() -> Path:
    return Path(str(files("badge_rules"))) / "examples" / "demo"


def write_demo_config(path: Path, *, data_dir: Path, port: int, sandbox_url: str, token: str,
                      smtp_port: int, push: bool = True) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
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
''' + (_PUSH if push else ""), encoding="utf-8")


_PUSH = '''
# Presence at a meetup, once recorded in the attendance module, is pushed back: the
# in-person activity (cmid 503) is marked complete, so Moodle's own completion counts it.
[[sources.sandbox.push]]
session = "*"
to = "sandbox"
course = "42"
target = "completion:503"
'''


@dataclass
class DemoResult:
    config: Config
    learners: int
    new_awards: int
    total_awards: int
    emails_sent: int
    pushes: int
    verify_url: str | None
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
            store = Store(config.bridge.db_url)
            try:
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
                      verify_url=urls.verify_page(awards[0].id) if awards else None, report=report,
                      world=world)


def _write_badges(config: Config, store: Store, awards: list[Award], out: Path) -> None:
    """badges/<id>.png and .svg (OB 2.0, baked), badges/ob3/<id>.json and .png (OB 3.0)."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for award in awards:
        write_award_files(config, store, award, out)
