"""The Moodle connector on the real Moodle 4.5 of the kit (../shared/moodle or $BB_MOODLE_KIT),
on one course of N learners, beside the platform floor measured in the same run.

    .venv/bin/python bench/moodle_real.py [--learners 503] [--interval 300]

Prints one JSON object: for the floor (the roster, then one course-completion call per learner,
`parallel` at once) and for badge-bridge without and with the completion report: requests by
function and seconds of a full sync, of a no-change sync `--interval` seconds later, and of the
run after 10 teachers' overrides (and how many of the 10 it awarded). Then what each
change-detection option costs and catches on the same course (docs/connectors.md).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "real_moodle")]

from kit import Site, start  # noqa: E402

from bridge.config import BridgeSettings, Config  # noqa: E402
from bridge.store import Store  # noqa: E402
from connectors.http import HttpClient  # noqa: E402
from connectors.moodle import MoodleConfig, MoodleConnector  # noqa: E402
from connectors.moodle.client import MoodleClient  # noqa: E402
from connectors.moodle.detect import report_completions  # noqa: E402
from jobs.run import run_sync  # noqa: E402

PARALLEL = 4  # the connector's default pool, and the kit's PHP workers
PER_LEARNER = ("core_completion_get_course_completion_status",
               "core_completion_get_activities_completion_status")


def floor(site: Site, course: int, page_size: int) -> dict[str, Any]:
    """The least any client pays to learn every learner's course completion: the roster pages,
    then one completion call per learner, PARALLEL at once."""
    http = HttpClient("floor", pool=PARALLEL + 2)
    client = MoodleClient(http, site.url, site.token)
    started = time.perf_counter()
    ids: list[int] = []
    offset = 0
    while True:
        page = client.call("core_enrol_get_enrolled_users", courseid=course, options=[
            {"name": "userfields", "value": "id,roles"}, {"name": "limitfrom", "value": offset},
            {"name": "limitnumber", "value": page_size}])
        ids += [u["id"] for u in page if {r["shortname"] for r in u["roles"]} == {"student"}]
        if len(page) < page_size:
            break
        offset += page_size
    with ThreadPoolExecutor(PARALLEL) as pool:
        done = sum(pool.map(lambda uid: client.call(
            "core_completion_get_course_completion_status", courseid=course,
            userid=uid)["completionstatus"]["completed"], ids))
    return {"requests": http.requests, "by_function": dict(http.by_endpoint),
            "seconds": round(time.perf_counter() - started, 2), "complete": done}


class Bridge:
    """badge-bridge with one Moodle source on a fresh SQLite store; its clock moved by hand."""

    def __init__(self, tmp: Path, site: Site, course: int, **source: Any) -> None:
        rules = tmp / "rules"
        rules.mkdir(parents=True)
        (rules / "done.toml").write_text(f'''[badge]
id = "done"
name = {{ fr = "Cours terminé", en = "Course completed" }}
description = {{ fr = "A terminé le cours.", en = "Completed the course." }}

[condition]
course_completed = {{ source = "campus", course = "{course}" }}
''', encoding="utf-8")
        self.cfg = MoodleConfig(url=site.url, token=site.token, courses=[str(course)],
                                parallel=PARALLEL, **source)
        self.config = Config(file=tmp / "b.toml", sources={"campus": self.cfg},
                             bridge=BridgeSettings(data_dir=tmp, rules_dir=rules))
        self.store = Store(f"sqlite:///{tmp / 'b.db'}")
        self.now = time.time()

    def run(self, *, advance: float = 0.0) -> dict[str, Any]:
        self.now += advance
        conn = MoodleConnector("campus", self.cfg, clock=lambda: self.now)
        started = time.perf_counter()
        report = run_sync(self.config, self.store, steps=("pull", "evaluate", "issue"),
                          connectors={"campus": conn})
        calls = Counter(conn.http.by_endpoint)
        return {"requests": sum(calls.values()), "learners_read": max(calls[f] for f in PER_LEARNER),
                "by_function": dict(calls), "seconds": round(time.perf_counter() - started, 2),
                "seconds_by_step": report.seconds, "awarded": report.awarded,
                "errors": len(report.errors)}

    def holders(self) -> set[int]:
        ids = {listed.award.learner_id for listed in self.store.awards.listing()}
        return {int(i.external_id) for i in self.store.facts.identities_of("campus", ids).values()}


def scenario(tmp: Path, site: Site, course: dict[str, Any], overridden: list[int], interval: int,
             **source: Any) -> dict[str, Any]:
    b = Bridge(tmp, site, course["courseid"], **source)
    out: dict[str, Any] = {"full_sync": b.run(), "no_change_sync": b.run(advance=interval)}
    site.op("override", cmid=course["cmids"]["meetup"], userids=",".join(map(str, overridden)))
    after = b.run(advance=interval)
    after["of_the_10_awarded"] = len(b.holders() & set(overridden))
    out["after_10_overrides"] = after
    if after["of_the_10_awarded"] < len(overridden):  # the rolling re-check's bound, run by run
        hours = 0
        while len(b.holders() & set(overridden)) < len(overridden) and hours < 48:
            b.run(advance=6 * 3600)
            hours += 6
        out["all_10_awarded_after_hours"] = hours
    return out


def detection(site: Site, course: dict[str, Any], report: int, attendance_report: int,
              overridden: list[int], since: int) -> dict[str, Any]:
    """What each change-detection option costs on this site and whether it sees the overrides."""
    def timed(fn: Any) -> tuple[Any, dict[str, Any]]:
        http = HttpClient("detect")
        client = MoodleClient(http, site.url, site.token)
        started = time.perf_counter()
        value = fn(client)
        return value, {"requests": http.requests, "seconds": round(time.perf_counter() - started, 2)}

    completed, cost = timed(lambda c: report_completions(c, report, 1000))
    mine = completed.get(str(course["courseid"]), set())
    rows, att_cost = timed(lambda c: c.call("core_reportbuilder_retrieve_report",
                                            reportid=attendance_report, perpage=1000)["data"])
    updates, upd_cost = timed(lambda c: c.call("core_course_get_updates_since",
                                               courseid=course["courseid"], since=since))
    updated = [u["name"] for i in updates["instances"] for u in i["updates"]]
    return {
        "completion_report": {**cost, "rows_site_wide": sum(map(len, completed.values())),
                              "sees_the_overrides": set(overridden) <= mine},
        "attendance_report": {**att_cost, "rows_first_page": len(rows["rows"]),
                              "rows_total": rows["totalrowcount"], "sees_the_overrides": False},
        "course_get_updates_since": {**upd_cost, "updates": sorted(set(updated)),
                                     "sees_the_overrides": "completion" in updated},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--learners", type=int, default=503)
    ap.add_argument("--interval", type=int, default=300, help="seconds between two runs")
    ap.add_argument("--shortname", default="BBBENCH")
    args = ap.parse_args()
    site = Site(start())
    started = time.perf_counter()
    course = site.course(args.shortname, learners=args.learners, complete=0.4, online=0.3, seed=11)
    built = round(time.perf_counter() - started, 1)
    report = int(site.op("report", name="badge-bridge completions")["reportid"])
    att_report = int(site.op("attreport", name="badge-bridge attendance")["reportid"])
    # teachers tick the meetup of learners who did the online part: spread over the roster
    online = random.Random(1).sample(course["userids"]["online_only"], 20)
    out: dict[str, Any] = {"learners": args.learners, "moodle": site.info["version"],
                           "course_build_seconds": built, "parallel": PARALLEL,
                           "interval_seconds": args.interval,
                           "complete_in_moodle": len(course["userids"]["complete"])}
    out["floor"] = floor(site, course["courseid"], 1000)
    with tempfile.TemporaryDirectory() as tmp:
        out["without_report"] = scenario(Path(tmp) / "a", site, course, online[:10], args.interval)
        since = int(time.time())
        out["with_report"] = scenario(Path(tmp) / "b", site, course, online[10:20], args.interval,
                                      completion_report=report)
    out["detection"] = detection(site, course, report, att_report, online[10:20], since - 1)
    incomplete = args.learners - len(course["userids"]["complete"]) - 20
    out["rolling_recheck_reads_per_run"] = math.ceil(incomplete * args.interval / 86400)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
