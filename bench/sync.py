"""Benchmark of one sync run against the sandbox platform seeded with N learners.

Prints one JSON object: seconds to seed the platform and per step, HTTP requests, awards,
emails, pushes, peak RSS, `awards_digest` (sha256 of the sorted `email|badge-id` lines) and
`pushes_digest` (sorted `email|session|target`), so that two runs (e.g. with and without
faults) can be compared;
`--resync` adds a second, no-change run right after the first.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bridge.delivery.catcher import MailCatcher  # noqa: E402
from bridge.store import Store  # noqa: E402
from connectors.registry import load as load_config  # noqa: E402
from jobs.run import run_sync  # noqa: E402
from sandbox import SandboxPlatform  # noqa: E402
from sandbox.edx_blocks import presence_block  # noqa: E402


def rss_mb() -> float:
    """Resident memory now (the in-process sandbox platform and SMTP server included)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def digest(lines: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()


def write_rules(folder: Path, courses: list[str], dialect: str) -> None:
    """One badge a course: 'course completed on the sandbox' (FUN's reports carry no completion:
    'passed' there)."""
    folder.mkdir(parents=True)
    condition = ('grade = {{ source = "sandbox", course = "{course}", ">=" = 0.5 }}'
                 if dialect == "fun" else
                 'course_completed = {{ source = "sandbox", course = "{course}" }}')
    for n, course in enumerate(courses):
        (folder / f"course-{n}.toml").write_text(f'''[badge]
id = "course-{n}"
name = {{ fr = "Cours {course} terminé", en = "Course {course} completed" }}
description = {{ fr = "A terminé le cours {course}.", en = "Completed course {course}." }}

[condition]
{condition.format(course=course)}
''', encoding="utf-8")


def write_sheet(path: Path, sandbox: SandboxPlatform) -> int:
    """A sign-in sheet of the sandbox's meetup presences (Open edX has no attendance module)."""
    rows = 0
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["email", "name", "session", "date", "place", "status"])
        for course in sandbox.world.courses:
            for learner in sandbox.world.enrolled(course.id):
                progress = learner.progress[course.id]
                for session in course.sessions:
                    if progress.attendance.get(session.id) == "P" and learner.email:
                        out.writerow([learner.email, learner.fullname, f"{course.key}/{session.id}",
                                      time.strftime("%Y-%m-%d", time.gmtime(session.sessdate)),
                                      session.place, "présent"])
                        rows += 1
    return rows


def config_text(args: argparse.Namespace, sandbox: SandboxPlatform, tmp: Path, smtp_port: int) -> str:
    head = f'''[bridge]
public_url = "http://127.0.0.1:8000"
data_dir = "{tmp / 'state'}"
rules_dir = "{tmp / 'rules'}"
{f'database_url = "{args.database}"' if args.database else ""}

[smtp]
port = {smtp_port}
'''
    courses = json.dumps(sandbox.course_ids)
    if args.dialect == "moodle":
        routes = "".join(f'''
[[sources.sandbox.push]]
session = "*"
to = "sandbox"
course = "{c.id}"
target = "completion:{c.attendance_cmid}"
''' for c in sandbox.world.courses[:1])
        return head + f'''
[sources.sandbox]
kind = "moodle"
url = "{sandbox.base_url}"
token = "{sandbox.token}"
courses = {courses}
''' + routes
    sheets = f'''
[sources.sheets]
kind = "csv"
path = "{tmp / 'sheet.csv'}"
'''
    if args.dialect == "fun":  # Dogwood takes no push: presence stays in badge-bridge
        return head + f'''
[sources.sandbox]
kind = "fun"
url = "{sandbox.base_url}"
{f'api_key = "{sandbox.api_key}"' if args.api_key else ""}
courses = {courses}
reports_dir = "{tmp / 'reports'}"
''' + sheets
    routes = "".join(f'''
[[sources.sheets.push]]
session = "*"
to = "sandbox"
course = "{c.key}"
target = "block:{presence_block(c)}"
''' for c in sandbox.world.courses[:1])
    return head + f'''
[sources.sandbox]
kind = "openedx"
url = "{sandbox.base_url}"
client_id = "{sandbox.client_id}"
client_secret = "{sandbox.client_secret}"
{f'api_key = "{sandbox.api_key}"' if args.api_key else ""}
courses = {courses}
''' + sheets + routes


def settle(config: Any, store: Store, rounds: int = 10) -> int:
    """Make every retry due now and finish the run's work, so digests compare final outcomes
    (a push refused by a transient fault waits for the outbox's backoff, 30 s and more)."""
    from datetime import UTC, datetime, timedelta

    from jobs.push import deliver_pushes

    for n in range(rounds):
        pending = [i for i in store.outbox.items() if i.status in ("pending", "sending")]
        if not pending and not store.facts.to_evaluate.pending():
            return n
        deliver_pushes(config, store, now=datetime.now(UTC) + timedelta(days=1))
        run_sync(config, store, steps=("evaluate", "issue", "deliver"), trigger="bench-settle")
    return rounds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--learners", type=int, default=2000)
    ap.add_argument("--courses", type=int, default=1)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--dialect", choices=["moodle", "openedx", "fun"], default="moodle")
    ap.add_argument("--fault-rate", type=float, default=0.0)
    ap.add_argument("--api-key", action="store_true",
                    help="openedx: send the LMS's API key with the token (no enrollment throttle); "
                         "fun: per-learner grade look-ups")
    ap.add_argument("--resync", action="store_true", help="a second, no-change run after the first")
    ap.add_argument("--database", default=None, help="SQLAlchemy URL (default: SQLite in a temp dir)")
    args = ap.parse_args()

    seeding = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmpdir, SandboxPlatform(
            args.dialect, learners=args.learners, courses=args.courses, seed=args.seed,
            fault_rate=args.fault_rate, retry_after=0, slow_delay=0.01, profile="scale") as sandbox:
        seed_seconds = round(time.perf_counter() - seeding, 3)  # the simulated platform's world
        tmp = Path(tmpdir)
        catcher = MailCatcher(keep=False).start()
        try:
            write_rules(tmp / "rules", sandbox.course_ids, args.dialect)
            if args.dialect != "moodle":
                write_sheet(tmp / "sheet.csv", sandbox)
            if args.dialect == "fun":  # what the course team downloads and drops in the folder
                sandbox.write_reports(tmp / "reports")
            path = tmp / "bench.toml"
            path.write_text(config_text(args, sandbox, tmp, catcher.port), encoding="utf-8")
            config = load_config(path)
            store = Store(config.bridge.db_url)
            rss_before = rss_mb()  # the seeded sandbox is in this process: the run's share is the rest
            started = time.perf_counter()
            report = run_sync(config, store, trigger="bench")
            wall = time.perf_counter() - started
            out: dict[str, Any] = {
                "dialect": args.dialect, "api_key": args.api_key,
                "learners": args.learners, "courses": args.courses,
                "seed": args.seed, "fault_rate": args.fault_rate, "database": store.engine.dialect.name,
                "seed_seconds": seed_seconds, "wall_seconds": round(wall, 3), "seconds": report.seconds,
                "http_requests": sandbox.request_count,
                "pull_requests": sum(st.requests for st in report.sources.values()),
                "new_facts": sum(s.new_facts for s in report.sources.values()),
                "source_errors": len(report.errors),
                "by_endpoint": dict(sorted(sandbox.requests_by_function.items())),
                "throttled": sandbox.throttle.refused if sandbox.throttle else 0,
            }
            if args.resync:
                sandbox.set_fault_rate(0.0)
                before = sandbox.request_count
                again = run_sync(config, store, trigger="bench")
                # The no-change pull's cost; pushes whose retry came due are counted apart.
                out["resync_requests"] = sum(st.requests for st in again.sources.values())
                out["resync_other_requests"] = sandbox.request_count - before - out["resync_requests"]
                out["resync_new_facts"] = sum(s.new_facts + s.changed_facts
                                              for s in again.sources.values())
                out["resync_seconds"] = again.seconds
            out["settle_rounds"] = settle(config, store)
            awards = store.awards.listing()
            pushed = [i for i in store.outbox.items("push") if i.status == "sent"]
            people = store.facts.learners({i.learner_id for i in pushed if i.learner_id is not None})
        finally:
            catcher.stop()
        out.update({
            "awards": len(awards), "emails": catcher.received, "pushes": len(pushed),
            "rss_before_run_mb": rss_before,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "awards_digest": digest([f"{a.email}|{a.award.badge_id}" for a in awards]),
            "pushes_digest": digest([f"{people[i.learner_id].email}|{i.payload.get('session')}|"
                                     f"{i.payload.get('target')}" for i in pushed
                                     if i.learner_id is not None]),
        })
        print(json.dumps(out))


if __name__ == "__main__":
    main()
