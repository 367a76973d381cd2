"""Kill trials: `badge-bridge sync` SIGKILLed at random points of pushing presence back to the
real Moodle of the kit (../shared/moodle or $BB_MOODLE_KIT), on SQLite and PostgreSQL; then two
ordinary runs. Counts the awards lost: learners Moodle says completed the course, without one.

    .venv/bin/python bench/push_kill.py [--trials 15] [--learners 40] [--databases sqlite,postgresql]

Each trial rebuilds its course (the sign-in sheet's presences complete the online-only
learners' course through `completion:<meetup>` pushes), starts a fresh store, kills the run
once a random number of pushes is recorded as sent (plus 0–40 ms), and prints one JSON object:
per trial, the awards lost and the presences never pushed (the online-only learners whose course
Moodle does not say complete after the two runs).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "real_moodle")]

from kit import Site, start  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from bridge.delivery.catcher import MailCatcher  # noqa: E402
from bridge.errors import StoreError  # noqa: E402
from bridge.store import Store  # noqa: E402
from connectors.http import HttpClient  # noqa: E402
from connectors.moodle.client import MoodleClient  # noqa: E402

PG_ADMIN = os.environ.get("BADGE_BRIDGE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
BIN = str(Path(sys.executable).with_name("badge-bridge"))


def config(tmp: Path, site: Site, course: dict[str, Any], emails: list[str], database: str,
           smtp: int) -> Path:
    (tmp / "rules").mkdir()
    (tmp / "rules" / "done.toml").write_text(f'''[badge]
id = "done"
name = {{ fr = "Parcours terminé", en = "Pathway completed" }}
description = {{ fr = "A terminé le parcours hybride.", en = "Completed the hybrid pathway." }}

[condition]
course_completed = {{ source = "campus", course = "{course['courseid']}" }}
''', encoding="utf-8")
    (tmp / "sheets").mkdir()
    (tmp / "sheets" / "meetup.csv").write_text(
        "email;session;status\n" + "".join(f"{e};meetup-1;present\n" for e in emails), encoding="utf-8")
    path = tmp / "bridge.toml"
    path.write_text(f'''[bridge]
data_dir = "{tmp / 'state'}"
rules_dir = "{tmp / 'rules'}"
database_url = "{database}"

[smtp]
port = {smtp}

[sources.campus]
kind = "moodle"
url = "{site.url}"
token = {{ env = "BB_KILL_TOKEN" }}
courses = ["{course['courseid']}"]

[sources.sheets]
kind = "csv"
path = "{tmp / 'sheets'}"

[[sources.sheets.push]]
to = "campus"
course = "{course['courseid']}"
target = "completion:{course['cmids']['meetup']}"
''', encoding="utf-8")
    return path


def fresh_database(kind: str, tmp: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp / 'bridge.db'}"
    name = f"bb_kill_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN.replace("postgresql://", "postgresql+psycopg://"),
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name


def drop_database(url: str) -> None:
    if url.startswith("postgresql"):
        admin = create_engine(PG_ADMIN.replace("postgresql://", "postgresql+psycopg://"),
                              isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
        admin.dispose()


def sent_pushes(database: str) -> int:
    """Pushes recorded as sent (-1 while the run has not made the schema yet)."""
    try:
        store = Store(database, migrate=False)
    except StoreError:
        return -1
    try:
        return sum(i.status == "sent" for i in store.outbox.items("push"))
    except Exception:  # noqa: BLE001 — the tables are not there yet
        return -1
    finally:
        store.close()


def completed_in_moodle(site: Site, course: dict[str, Any]) -> set[str]:
    client = MoodleClient(HttpClient("truth"), site.url, site.token)
    learners = [u for group in course["userids"].values() for u in group]
    return {f"uid:{u}" for u in learners if client.call(
        "core_completion_get_course_completion_status", courseid=course["courseid"],
        userid=u)["completionstatus"]["completed"]}


def awarded(database: str) -> set[str]:
    store = Store(database)
    try:
        holders = {listed.award.learner_id for listed in store.awards.listing()}
        return {f"uid:{i.external_id}" for i in store.facts.identities_of("campus", holders).values()}
    finally:
        store.close()


def trial(site: Site, kind: str, n: int, learners: int, rng: random.Random) -> dict[str, Any]:
    course = site.course("BBKILL", learners=learners, complete=0.2, online=0.6, seed=n)
    pushes = len(course["userids"]["complete"]) + len(course["userids"]["online_only"])
    emails = [f"learner{i:04d}@example.org" for i in range(1, learners + 1)]
    target = rng.randrange(pushes)  # kill once this many pushes are recorded sent
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        catcher = MailCatcher(keep=False).start()
        database = fresh_database(kind, tmp)
        try:
            path = config(tmp, site, course, emails, database, catcher.port)
            env = {**os.environ, "BB_KILL_TOKEN": site.token}
            proc = subprocess.Popen([BIN, "sync", "--config", str(path)], env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            killed = False
            while proc.poll() is None:
                if sent_pushes(database) >= target:
                    time.sleep(rng.uniform(0, 0.04))
                    proc.send_signal(signal.SIGKILL)
                    killed = True
                    break
                time.sleep(0.005)
            proc.wait()
            at_kill = sent_pushes(database)
            for _ in range(2):
                subprocess.run([BIN, "sync", "--config", str(path)], env=env, capture_output=True,
                               timeout=600)
            expected, got = completed_in_moodle(site, course), awarded(database)
        finally:
            catcher.stop()
            drop_database(database)
    should = {f"uid:{u}" for g in ("complete", "online_only") for u in course["userids"][g]}
    return {"database": kind, "killed": killed, "pushes_sent_at_kill": at_kill,
            "complete_in_moodle": len(expected), "awarded": len(got),
            "lost": len(expected - got), "not_pushed": len(should - expected)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--trials", type=int, default=15)
    ap.add_argument("--learners", type=int, default=40)
    ap.add_argument("--databases", default="sqlite,postgresql")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    site, rng = Site(start()), random.Random(args.seed)
    results = [trial(site, kind, n, args.learners, rng) for kind in args.databases.split(",")
               for n in range(args.trials)]
    summary = {kind: {"trials": sum(r["database"] == kind for r in results),
                      "killed": sum(r["killed"] for r in results if r["database"] == kind),
                      "trials_losing_awards": sum(r["lost"] > 0 for r in results if r["database"] == kind),
                      "awards_lost": sum(r["lost"] for r in results if r["database"] == kind),
                      "presences_not_pushed": sum(r["not_pushed"] for r in results
                                                  if r["database"] == kind)}
               for kind in args.databases.split(",")}
    print(json.dumps({"learners": args.learners, "summary": summary, "trials": results}, indent=1))


if __name__ == "__main__":
    main()
