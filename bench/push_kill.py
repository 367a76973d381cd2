"""Kill trials: `badge-bridge sync` SIGKILLed at random points of pushing presence back to the
real Moodle of the kit (../shared/moodle or $BB_MOODLE_KIT), on SQLite and PostgreSQL.

    .venv/bin/python bench/push_kill.py [--trials 15] [--learners 40] [--databases sqlite,postgresql]

Each trial builds its own course (the sign-in sheet's presences complete the online-only
learners' course through `completion:<meetup>` pushes) and store, starts a sync and kills it
once a random number of pushes is recorded as sent (plus 0–40 ms), then runs one ordinary sync.
When every push lease has ended (10 minutes after the last kill) each trial gets one more run.
Prints one JSON object: per trial, the awards missing after the next run (learners Moodle says
complete, without an award), and after the last run the awards lost and the presences never
pushed (online-only learners whose course Moodle does not say complete).
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
LEASE = 10 * 60 + 15  # the outbox's push lease, and a margin


def config(tmp: Path, site: Site, course: dict[str, Any], emails: list[str], database: str,
           smtp: int) -> Path:
    (tmp / "rules").mkdir(parents=True)
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


def push_progress(database: str) -> tuple[int, int]:
    """(pushes claimed or sent, pushes sent); (0, 0) while the run has not made the schema yet."""
    try:
        store = Store(database, migrate=False)
    except StoreError:
        return 0, 0
    try:
        items = store.outbox.items("push")
        return sum(i.status in ("sending", "sent") for i in items), sum(i.status == "sent" for i in items)
    except Exception:  # noqa: BLE001 — the tables are not there yet
        return 0, 0
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


class Trial:
    """One course, one store, one killed sync; then the runs that must finish its work."""

    def __init__(self, site: Site, kind: str, n: int, learners: int, tmp: Path) -> None:
        self.site, self.kind = site, kind
        self.course = site.course(f"BBKILL{kind[0].upper()}{n:02d}", learners=learners,
                                  complete=0.2, online=0.6, seed=n)
        self.database = fresh_database(kind, tmp)
        emails = [f"learner{i:04d}@example.org" for i in range(1, learners + 1)]
        self.catcher = MailCatcher(keep=False).start()
        self.path = config(tmp, site, self.course, emails, self.database, self.catcher.port)
        self.env = {**os.environ, "BB_KILL_TOKEN": site.token}
        self.out: dict[str, Any] = {"database": kind, "course": self.course["shortname"]}
        self.killed_at = 0.0

    def kill(self, rng: random.Random) -> None:
        pushes = len(self.course["userids"]["complete"]) + len(self.course["userids"]["online_only"])
        target = rng.randrange(pushes)
        proc = subprocess.Popen([BIN, "sync", "--config", str(self.path)], env=self.env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        killed = False
        while proc.poll() is None:
            claimed, sent = push_progress(self.database)
            if claimed and sent >= target:
                time.sleep(rng.uniform(0, 0.04))
                proc.send_signal(signal.SIGKILL)
                killed = True
                break
            time.sleep(0.005)
        proc.wait()
        self.killed_at = time.time()
        self.out.update(killed=killed, pushes_sent_at_kill=push_progress(self.database)[1])

    def run(self) -> None:
        subprocess.run([BIN, "sync", "--config", str(self.path)], env=self.env, capture_output=True,
                       timeout=600)

    def count(self, when: str) -> None:
        complete, awarded_ = completed_in_moodle(self.site, self.course), awarded(self.database)
        should = {f"uid:{u}" for g in ("complete", "online_only") for u in self.course["userids"][g]}
        self.out[f"lost_{when}"] = len(complete - awarded_)
        self.out[f"not_pushed_{when}"] = len(should - complete)
        self.out[f"complete_in_moodle_{when}"] = len(complete)

    def close(self) -> None:
        self.catcher.stop()
        drop_database(self.database)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--trials", type=int, default=15)
    ap.add_argument("--learners", type=int, default=40)
    ap.add_argument("--databases", default="sqlite,postgresql")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    site, rng = Site(start()), random.Random(args.seed)
    kinds = args.databases.split(",")
    with tempfile.TemporaryDirectory() as tmpdir:
        trials = []
        try:
            for kind in kinds:
                for n in range(args.trials):
                    t = Trial(site, kind, n, args.learners, Path(tmpdir) / f"{kind}{n}")
                    trials.append(t)
                    t.kill(rng)
                    t.run()  # the next run
                    t.count("after_next_run")
            time.sleep(max(0.0, LEASE - (time.time() - max(t.killed_at for t in trials))))
            for t in trials:
                t.run()  # a run after every lease ended: the kept pushes are taken up again
                t.count("at_the_end")
        finally:
            for t in trials:
                t.close()
    results = [t.out for t in trials]
    summary = {kind: {
        "trials": sum(r["database"] == kind for r in results),
        "killed_while_pushing": sum(r["killed"] for r in results if r["database"] == kind),
        "awards_missing_after_the_next_run": sum(r["lost_after_next_run"] for r in results
                                                  if r["database"] == kind),
        "awards_lost": sum(r["lost_at_the_end"] for r in results if r["database"] == kind),
        "presences_never_pushed": sum(r["not_pushed_at_the_end"] for r in results
                                      if r["database"] == kind)} for kind in kinds}
    print(json.dumps({"learners": args.learners, "summary": summary, "trials": results}, indent=1))


if __name__ == "__main__":
    main()
