"""The long fuzz run: thousands of hostile inputs of each kind, and what became of them.

    python chaos/fuzz.py                      # 10,000 cases per kind, SQLite
    python chaos/fuzz.py --cases 200 --kind sheet --kind web
    python chaos/fuzz.py --database postgresql://postgres@127.0.0.1:5432/postgres

Prints one JSON summary: per kind, cases, ok, refusals (of which unplaced: an error naming no
line), crashes, and the first crashes with the
seed that replays each (`--replay KIND:SEED`). Exit 1 if anything crashed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
import traceback
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bridge.store import Store  # noqa: E402
from chaos.cases import KINDS, WebTarget, cleanup, scratch  # noqa: E402

ALL = [*KINDS, "web"]


@contextmanager
def database(url: str | None, tmp: Path) -> Iterator[str]:
    """A fresh database: SQLite in `tmp`, or a throw-away one on the PostgreSQL server of `url`."""
    if not url:
        yield f"sqlite:///{tmp / 'fuzz.db'}"
        return
    import sqlalchemy as sa

    name = f"bb_fuzz_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run_kind(kind: str, cases: int, seed: int, url: str | None) -> dict[str, object]:
    os.environ.update(FUZZ_SMTP_PASSWORD="smtp-pw", FUZZ_ADMIN_TOKEN="admin-token",
                      FUZZ_MOODLE_TOKEN="moodle-token")
    tmp = scratch()
    counts = {"cases": 0, "ok": 0, "refusals": 0, "unplaced": 0, "crashes": 0}
    crashes: list[dict[str, str]] = []
    started = time.perf_counter()
    try:
        with database(url, tmp) as db:
            store = Store(db, keys_dir=tmp / "keys")
            web = WebTarget(tmp, store) if kind == "web" else None
            for n in range(cases):
                case_seed = seed * 1_000_003 + n
                rng = random.Random(case_seed)
                case_dir = tmp / f"c{n % 4}"
                case_dir.mkdir(exist_ok=True)
                counts["cases"] += 1
                try:
                    if web is not None:
                        from chaos.cases import _web_make

                        outcome = web.run(_web_make(rng))
                    else:
                        k = KINDS[kind]
                        outcome = k.run(k.make(rng), case_dir, store)
                except Exception as exc:  # a crash: what the run is looking for
                    counts["crashes"] += 1
                    if len(crashes) < 10:
                        crashes.append({"replay": f"{kind}:{case_seed}", "error": f"{type(exc).__name__}: {exc}"[:300],
                                        "at": traceback.format_exc().strip().splitlines()[-3][:200]})
                    continue
                counts["ok" if outcome == "ok" else "refusals"] += 1
                counts["unplaced"] += outcome == "unplaced"
            store.close()
    finally:
        cleanup(tmp)
    return {**counts, "seconds": round(time.perf_counter() - started, 1), "first_crashes": crashes}


def replay(spec: str, url: str | None) -> None:
    kind, _, seed = spec.partition(":")
    tmp = scratch()
    try:
        with database(url, tmp) as db:
            store = Store(db, keys_dir=tmp / "keys")
            rng = random.Random(int(seed))
            if kind == "web":
                from chaos.cases import _web_make

                case = _web_make(rng)
                print(repr(case)[:2000])
                print(WebTarget(tmp, store).run(case))
            else:
                k = KINDS[kind]
                case = k.make(rng)
                print(repr(case)[:2000])
                print(k.run(case, tmp, store))
    finally:
        cleanup(tmp)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=10_000, help="cases per kind")
    parser.add_argument("--kind", action="append", choices=ALL, help="only this kind (repeatable)")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--database", help="a PostgreSQL server URL (default: SQLite)")
    parser.add_argument("--replay", metavar="KIND:SEED", help="run one case again, with its traceback")
    args = parser.parse_args()
    if args.replay:
        replay(args.replay, args.database)
        return 0
    kinds = args.kind or ALL
    summary = {"database": "postgresql" if args.database else "sqlite", "seed": args.seed,
               "kinds": {k: run_kind(k, args.cases, args.seed, args.database) for k in kinds}}
    summary["cases"] = sum(v["cases"] for v in summary["kinds"].values())  # type: ignore[union-attr,misc]
    summary["crashes"] = sum(v["crashes"] for v in summary["kinds"].values())  # type: ignore[union-attr,misc]
    print(json.dumps(summary, indent=2))
    return 1 if summary["crashes"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
