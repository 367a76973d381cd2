"""`badge-bridge meetups …`: create a session (JSON with its id and organiser link), list, show
its attendees, replace the organiser link, close; sessions declared in the config and in a
sessions file; bad input refused with its place."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner

from bridge.errors import CheckInRefused
from cli import main


def run(config, *args: str):
    return CliRunner().invoke(main, ["--lang", "en", *args[:2], "--config", str(config.file), *args[2:]])


def test_create_show_link_and_close(meetup, phone) -> None:
    start = (datetime.now(UTC) - timedelta(minutes=5)).replace(microsecond=0)
    created = run(meetup.config, "meetups", "create", "--title", "Atelier SNT", "--place",
                  "Médiathèque", "--town", "Lyon", "--start", start.strftime("%Y-%m-%dT%H:%M:%S"),
                  "--end", (start + timedelta(hours=2)).isoformat(), "--course", "42",
                  "--tag", "Temps-de-rencontre", "--json")
    assert created.exit_code == 0, created.output
    doc = json.loads(created.output)
    assert doc["id"].startswith("m-") and doc["organiser_url"].startswith(f"{meetup.base}/o/")
    assert doc["source"] == "rencontres" and doc["tags"] == ["temps-de-rencontre"]
    # without an offset the config's zone applies: Paris, +01:00 or +02:00
    assert datetime.fromisoformat(doc["start"]).utcoffset() in (timedelta(hours=1), timedelta(hours=2))
    session = meetup.store.meetups.get(doc["id"])
    assert session.starts_at == start.replace(tzinfo=meetup.config.bridge.zone).astimezone(UTC)
    phone().check_in(meetup.qr_url(session), "a@example.org")
    shown = json.loads(run(meetup.config, "meetups", "show", doc["id"], "--json").output)
    [person] = shown["attendees"]
    assert (person["email"], person["method"], person["status"]) == ("a@example.org", "qr", "present")
    listed = [json.loads(line) for line in run(meetup.config, "meetups", "list", "--json").output.splitlines()]
    assert [(d["id"], d["present"]) for d in listed] == [(doc["id"], 1)]
    new = json.loads(run(meetup.config, "meetups", "link", doc["id"], "--json").output)["organiser_url"]
    assert new != doc["organiser_url"]
    old_token = doc["organiser_url"].rsplit("/", 1)[1]
    try:
        meetup.desk.organiser_session(old_token, datetime.now(UTC))
        raise AssertionError("the replaced link still works")
    except CheckInRefused as exc:
        assert exc.reason == "no_link"
    assert run(meetup.config, "meetups", "close", doc["id"]).output.strip() == "closed"
    assert run(meetup.config, "meetups", "close", doc["id"]).output.strip() == "already closed"
    missing = run(meetup.config, "meetups", "show", "nope")
    assert missing.exit_code == 1 and "no meetup session nope" in missing.output


def test_create_refuses_what_cannot_work(make_meetup) -> None:
    meetup = make_meetup('''
[sources.fun]
kind = "fun"
courses = ["course-v1:inria+41028+session01"]
''')
    base = ["meetups", "create", "--title", "T", "--place", "P", "--course", "42"]
    cases = {
        ("--start", "2026-11-14T14:00", "--end", "2026-11-14T13:00"): "end: must be after start",
        ("--start", "tomorrow", "--end", "2026-11-14T13:00"): "is not an ISO 8601 date",
        ("--start", "2026-11-14T14:00", "--end", "2026-11-14T16:00", "--push-to", "fun",
         "--push-target", "completion:3"): "FUN-MOOC runs Open edX Dogwood",
        ("--start", "2026-11-14T14:00", "--end", "2026-11-14T16:00", "--push-to", "moodle",
         "--push-target", "completion:3"): "no source 'moodle' to push to",
        ("--start", "2026-11-14T14:00", "--end", "2026-11-14T16:00", "--organiser-email",
         "not-an-address"): "--organiser-email",
    }
    for extra, words in cases.items():
        result = run(meetup.config, *base, *extra)
        assert result.exit_code == 2 and words in result.output, (extra, result.output)
    assert meetup.store.meetups.sessions() == []


def test_sessions_declared_in_the_config_and_a_sessions_file(make_meetup, tmp_path) -> None:
    (tmp_path / "sessions.toml").write_text('''
[[session]]
id = "nice-2026-11"
title = "Temps de rencontre de novembre"
place = "Fab lab du port"
town = "Nice"
start = 2026-11-14T14:00:00
end = 2026-11-14T17:00:00
course = "42"
tags = ["snt"]
''', encoding="utf-8")
    meetup = make_meetup('''sessions_file = "sessions.toml"

[[sources.rencontres.sessions]]
id = "lyon-2026-12"
title = "Rencontre de décembre"
place = "Médiathèque"
start = 2026-12-05T09:30:00+01:00
end = 2026-12-05T12:00:00+01:00
course = "42"
''')
    listed = [json.loads(line) for line in run(meetup.config, "meetups", "list", "--json").output.splitlines()]
    assert [(d["id"], d["start"], d["origin"]) for d in listed] == [
        ("lyon-2026-12", "2026-12-05T09:30:00+01:00", "config"),
        ("nice-2026-11", "2026-11-14T14:00:00+01:00", "config")]
    (tmp_path / "sessions.toml").write_text('[[session]]\nid = "x"\ntitle = "T"\nplace = "P"\n'
                                             'start = 2026-11-14T14:00:00\nend = "soon"\ncourse = "42"\n')
    broken = run(meetup.config, "meetups", "list")
    assert broken.exit_code == 2
    assert "sessions.toml:6" in broken.output and "session.0.end" in broken.output
