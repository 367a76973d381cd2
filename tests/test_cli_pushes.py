"""A refused push on the command line: `sync` shows the refusal with its fix and exits 4 (a
source error, even with emails undelivered too); once fixed, `pushes retry` pushes at once;
emails alone undelivered exit 5."""

from __future__ import annotations

import socket
from pathlib import Path

from click.testing import CliRunner

from cli import main
from sandbox import SandboxPlatform

RULE = """[badge]
id = "snt"
name = { fr = "SNT", en = "SNT" }
description = { fr = "Parcours terminé.", en = "Pathway completed." }

[condition]
course_completed = { source = "lms", course = "42" }
"""


def closed_port() -> int:
    """A loopback port nobody listens on: every email is refused at connection (and, with one
    attempt allowed, not delivered)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def config(tmp_path: Path, sb: SandboxPlatform, emails: list[str], cmid: int) -> Path:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "snt.toml").write_text(RULE, encoding="utf-8")
    (tmp_path / "sheet.csv").write_text("email,session,status\n" + "".join(
        f"{e},meetup-1,present\n" for e in emails), encoding="utf-8")
    path = tmp_path / "bridge.toml"
    path.write_text(f'''[bridge]
data_dir = "{tmp_path / 'state'}"
rules_dir = "{tmp_path / 'rules'}"

[smtp]
port = {closed_port()}
max_attempts = 1

[sources.lms]
kind = "moodle"
url = "{sb.base_url}"
token = "{sb.token}"
courses = ["42"]

[sources.sheets]
kind = "csv"
path = "{tmp_path / 'sheet.csv'}"

[[sources.sheets.push]]
to = "lms"
course = "42"
target = "completion:{cmid}"
''', encoding="utf-8")
    return path


def test_a_refused_push_exits_4_names_its_fix_and_is_pushed_by_pushes_retry(tmp_path: Path) -> None:
    with SandboxPlatform("moodle", learners=30, seed=4, missing_capabilities={
            "moodle/course:overridecompletion"}) as sb:
        w, course = sb.world, sb.world.courses[0]
        waiting = [u for u in w.enrolled(course.id) if u.email
                   and not w.activity_completed(u, course, course.attendance_cmid)]
        path = config(tmp_path, sb, [u.email for u in waiting], course.attendance_cmid)
        cli = CliRunner()
        synced = cli.invoke(main, ["--lang", "en", "sync", "--config", str(path)])
        assert synced.exit_code == 4, synced.output  # refused pushes and undelivered emails: 4
        assert "kept until fixed " + str(len(waiting)) in synced.stdout
        assert "grant moodle/course:overridecompletion to the role of web-service user" in synced.stderr
        assert f"({len(waiting)} pushes refused alike)" in synced.stderr
        again = cli.invoke(main, ["--lang", "en", "pushes", "retry", "--config", str(path)])
        assert again.exit_code == 4 and sb.pushes == []  # still refused, still kept
        sb.missing_capabilities.clear()  # the administrator grants the capability
        retried = cli.invoke(main, ["--lang", "en", "pushes", "retry", "--source", "lms",
                                    "--config", str(path)])
        assert f"{len(waiting)} kept pushes tried again: pushed back {len(waiting)}" in retried.stdout
        assert len(sb.pushes) == len(waiting)
        assert retried.exit_code == 5, retried.output  # only the emails are left undelivered
        unknown = cli.invoke(main, ["--lang", "en", "pushes", "retry", "--source", "nope",
                                    "--config", str(path)])
        assert unknown.exit_code == 2 and "no source nope; configured sources: lms, sheets" in unknown.stderr
