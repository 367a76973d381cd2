"""Pull CPU against a minimal client making the same Moodle calls at the same concurrency.

The sandbox Moodle answers from another process; this process runs, in turn, badge-bridge's
first pull of the course (into a fresh SQLite store, or a new PostgreSQL database with `--db`;
the database server's own CPU is not counted) and `minimal_pull`: a bare
`requests.Session` + `json` doing the same web-service calls (site info, contents, sessions,
grade report, roster pages, language look-ups, two completion calls per learner in a pool of
the same size) and keeping nothing. CPU is this process's (all threads); medians of
`--repeat` rounds. Prints one JSON object; `ratio_cpu` is the figure (target ≤ 1.1).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from platform_proc import RemoteSandbox  # noqa: E402


def minimal_pull(url: str, token: str, courses: list[str], parallel: int, page: int,
                 read_only: int | None = None, languages: bool = True) -> int:
    """The same calls as a first pull, by hand; returns the number of requests. `read_only`:
    read that many learners (a resync's re-check), `languages`: look their languages up."""
    session = requests.Session()
    endpoint = url + "/webservice/rest/server.php"
    count = 0

    def call(function: str, **params: Any) -> Any:
        nonlocal count
        count += 1
        data = {"wstoken": token, "wsfunction": function, "moodlewsrestformat": "json", **params}
        return json.loads(session.post(endpoint, data=data).content)

    call("core_webservice_get_site_info")
    for course in courses:
        contents = call("core_course_get_contents", courseid=course,
                        **{"options[0][name]": "modname", "options[0][value]": "attendance",
                           "options[1][name]": "excludecontents", "options[1][value]": "1"})
        for section in contents:
            for module in section["modules"]:
                if module["modname"] == "attendance":
                    call("mod_attendance_get_sessions", attendanceid=module["instance"])
        call("gradereport_user_get_grade_items", courseid=course, userid=0)
        learners, offset = [], 0
        while True:
            users = call("core_enrol_get_enrolled_users", courseid=course, **{
                "options[0][name]": "userfields",
                "options[0][value]": "id,username,fullname,email,lastcourseaccess,roles",
                "options[1][name]": "limitfrom", "options[1][value]": str(offset),
                "options[2][name]": "limitnumber", "options[2][value]": str(page),
                "options[3][name]": "sortby", "options[3][value]": "id"})
            learners += [u["id"] for u in users
                         if not u["roles"] or any(r["shortname"] == "student" for r in u["roles"])]
            if len(users) < page:
                break
            offset += page
        if read_only is not None:
            learners = learners[:read_only]
        for i in range(0, len(learners) if languages else 0, 100):
            call("core_user_get_users_by_field", field="id",
                 **{f"values[{n}]": str(v) for n, v in enumerate(learners[i:i + 100])})

        def read(uid: int, course: str = course) -> None:
            call("core_completion_get_course_completion_status", courseid=course, userid=uid)
            call("core_completion_get_activities_completion_status", courseid=course, userid=uid)
        with ThreadPoolExecutor(parallel) as pool:
            list(pool.map(read, learners))
    session.close()
    return count


_DATABASES: list[str] = []  # PostgreSQL databases made for the pulls, dropped at the end


def fresh_database(server: str) -> str:
    """A new empty PostgreSQL database on `server` (a URL whose database is the name prefix)."""
    import uuid

    import sqlalchemy as sa

    base, prefix = server.rsplit("/", 1)
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base.replace("postgresql://", "postgresql+psycopg://") + "/postgres",
                             isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    _DATABASES.append(name)
    return f"{base}/{name}"


def drop_databases(server: str) -> None:
    import sqlalchemy as sa

    base = server.rsplit("/", 1)[0]
    admin = sa.create_engine(base.replace("postgresql://", "postgresql+psycopg://") + "/postgres",
                             isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in _DATABASES:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def bridge_pull(sb: RemoteSandbox, parallel: int, db: str = "sqlite") -> Any:
    """A first pull into a fresh store (an SQLite file, or a new PostgreSQL database on the
    server `db` names): the store is made before, the pull measured."""
    from bridge.store import Store
    from connectors.registry import load as load_config
    from jobs.pull import pull_sources

    folder = Path(tempfile.mkdtemp(prefix="bench-pull-"))
    (folder / "rules").mkdir()
    database = "" if db == "sqlite" else f'database_url = "{fresh_database(db)}"\n'
    (folder / "b.toml").write_text(f'''[bridge]
public_url = "http://127.0.0.1:8000"
data_dir = "{folder / 'state'}"
rules_dir = "{folder / 'rules'}"
{database}
[sources.sandbox]
kind = "moodle"
url = "{sb.base_url}"
token = "{sb.token}"
courses = {json.dumps(sb.course_ids)}
parallel = {parallel}
''', encoding="utf-8")
    config = load_config(folder / "b.toml")
    store = Store(config.bridge.db_url)
    run_id = store.runs.begin(["sandbox"], "bench")

    def pull() -> int:
        return pull_sources(config, store, run_id)["sandbox"].requests
    return pull


def measure(fn: Any) -> tuple[float, float, int]:
    wall, cpu = time.perf_counter(), time.process_time()
    requests_made = fn()
    return time.process_time() - cpu, time.perf_counter() - wall, requests_made


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--learners", type=int, default=2000)
    ap.add_argument("--parallel", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--latency-ms", type=float, default=0.0)
    ap.add_argument("--db", default="sqlite",
                    help="sqlite (a file), or a PostgreSQL URL whose database name is the prefix "
                         "of the databases made for each pull (dropped at the end)")
    args = ap.parse_args()
    rows: dict[str, list[tuple[float, float, int]]] = {"bridge": [], "minimal": []}
    with RemoteSandbox(learners=args.learners, latency=args.latency_ms / 1000) as sb:
        try:
            bridge_pull(sb, args.parallel, args.db)()  # warm-up: imports, sandbox caches
            for _ in range(args.repeat):  # interleaved, so that a busy machine weighs on both
                rows["minimal"].append(measure(lambda: minimal_pull(
                    sb.base_url, sb.token, sb.course_ids, args.parallel, 1000)))
                rows["bridge"].append(measure(bridge_pull(sb, args.parallel, args.db)))
        finally:
            if args.db != "sqlite":
                drop_databases(args.db)
    med = {k: (statistics.median(r[0] for r in v), statistics.median(r[1] for r in v), v[0][2])
           for k, v in rows.items()}
    print(json.dumps({
        "bench": "pull_cpu", "learners": args.learners, "parallel": args.parallel,
        "latency_ms": args.latency_ms, "repeat": args.repeat, "db": args.db.split(":")[0],
        "bridge_cpu_s": round(med["bridge"][0], 3), "minimal_cpu_s": round(med["minimal"][0], 3),
        "bridge_wall_s": round(med["bridge"][1], 3), "minimal_wall_s": round(med["minimal"][1], 3),
        "bridge_requests": med["bridge"][2], "minimal_requests": med["minimal"][2],
        "ratio_cpu": round(med["bridge"][0] / med["minimal"][0], 3),
        "ratio_wall": round(med["bridge"][1] / med["minimal"][1], 3),
    }))


if __name__ == "__main__":
    main()
