"""Crash trials: `badge-bridge sync` SIGKILLed at random points of each step (pull, evaluate,
issue, email, push-back) on SQLite and PostgreSQL, and a Celery worker killed mid-task whose task
the broker redelivers; each followed by ordinary runs, then checked against an uncrashed run.

    python chaos/crash.py                          # 30 trials per database, + Celery trials
    python chaos/crash.py --trials 10 --databases sqlite --celery 0

Each trial: a fresh sandbox platform (speaking Moodle, the demo's course and push-back, same
seed: the same truth), a fresh store, one real SMTP catcher; `badge-bridge sync` started as a
process and SIGKILLed once the chosen step has made a random amount of progress (facts stored,
awards written, emails or pushes sent; plus 0–30 ms). A lease held by the killed process is then
ended (as ten minutes passing would end it), and two ordinary syncs follow. Checked:

- lost awards: awards of the uncrashed reference run missing (by learner address and badge);
- duplicate awards: two live awards of one badge for one learner;
- undelivered: email or push items not `sent` after the runs; emails of an award never received;
- duplicate emails: messages received beyond one per (award, kind) — counted, at-least-once
  across a crash is accepted when rare.

Prints one JSON object: totals, per database and per step, and each trial.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from bridge.delivery.catcher import MailCatcher  # noqa: E402
from bridge.web.server import free_port  # noqa: E402
from cli.demo import write_demo_config  # noqa: E402
from sandbox import SandboxPlatform  # noqa: E402

PG_ADMIN = os.environ.get("BADGE_BRIDGE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
BIN = str(Path(sys.executable).with_name("badge-bridge"))
STEPS = ("pull", "evaluate", "issue", "email", "push")
LEARNERS, SEED = 40, 11


@contextmanager
def database(kind: str, tmp: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp / 'bridge.db'}"
        return
    name = f"bb_crash_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def engine_of(url: str) -> Any:
    return create_engine(url.replace("postgresql://", "postgresql+psycopg://"))


def scalar(engine: Any, sql: str) -> int:
    """A count, or -1 while the schema is not there yet."""
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(sql)).scalar() or 0)
    except Exception:  # noqa: BLE001 — tables not created yet, a locked file: not progress yet
        return -1


PROGRESS: dict[str, str] = {
    "pull": "SELECT count(*) FROM runs",
    "evaluate": "SELECT count(*) FROM facts",  # the pull done: evaluate and issue follow
    "issue": "SELECT count(*) FROM awards",
    "email": "SELECT count(*) FROM outbox WHERE channel = 'email' AND status = 'sent'",
    "push": "SELECT count(*) FROM outbox WHERE channel = 'push' AND status = 'sent'",
}


@dataclass
class Truth:
    awards: set[tuple[str, str]]
    facts: int
    emails: int
    pushes: int


@dataclass
class Trial:
    database: str
    step: str
    killed: bool = False
    threshold: int = 0
    at_kill: int = 0
    lost_awards: int = 0
    duplicate_awards: int = 0
    undelivered_emails: int = 0
    undelivered_pushes: int = 0
    emails_never_received: int = 0
    duplicate_emails: int = 0
    leases_ended: int = 0
    redelivered: bool | None = None  # Celery trials: the killed task was run again by another worker
    run_errors: list[str] = field(default_factory=list)


class World:
    """A sandbox platform, an SMTP catcher, a store and the config joining them."""

    def __init__(self, tmp: Path, url: str) -> None:
        self.tmp, self.url = tmp, url
        self.platform = SandboxPlatform("moodle", learners=LEARNERS, seed=SEED, profile="demo")
        self.platform.__enter__()
        self.catcher = MailCatcher().start()
        self.config = tmp / "bridge.toml"
        write_demo_config(self.config, data_dir=tmp / "state", port=free_port(),
                          sandbox_url=self.platform.base_url, token=self.platform.token,
                          smtp_port=self.catcher.port)
        self.config.write_text(self.config.read_text().replace(
            "[issuer]", f'database_url = "{url}"\n\n[issuer]', 1), encoding="utf-8")
        self.engine = engine_of(url)

    def close(self) -> None:
        self.engine.dispose()
        self.catcher.stop()
        self.platform.__exit__(None, None, None)

    def sync(self) -> subprocess.Popen[str]:
        return subprocess.Popen([BIN, "sync", "--config", str(self.config), "--json"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)

    def sync_to_end(self) -> dict[str, Any]:
        proc = self.sync()
        out, err = proc.communicate(timeout=600)
        try:
            return dict(json.loads(out))
        except ValueError:
            return {"status": "no report", "stderr": err[-500:]}

    def awards(self) -> list[tuple[str, str, str]]:
        with self.engine.connect() as conn:
            return [(r[0], r[1], r[2]) for r in conn.execute(text(
                "SELECT l.email, a.badge_id, a.period FROM awards a JOIN learners l ON l.id = a.learner_id "
                "WHERE a.status != 'revoked'"))]

    def end_leases(self) -> int:
        """What ten minutes would do: the killed process's leases end."""
        from datetime import UTC, datetime

        from sqlalchemy import update

        from bridge.store.schema import outbox

        with self.engine.begin() as conn:
            return int(conn.execute(update(outbox).where(outbox.c.status == "sending").values(
                lease_until=datetime(2000, 1, 1, tzinfo=UTC))).rowcount or 0)

    def undelivered(self, channel: str) -> int:
        return scalar(self.engine, f"SELECT count(*) FROM outbox WHERE channel = '{channel}' "
                                   "AND status != 'sent'")


def reference(kind: str, tmp: Path) -> Truth:
    with database(kind, tmp) as url:
        world = World(tmp, url)
        try:
            world.sync_to_end()
            world.sync_to_end()
            return Truth(awards={(e, b) for e, b, _ in world.awards()},
                         facts=scalar(world.engine, "SELECT count(*) FROM facts"),
                         emails=scalar(world.engine, "SELECT count(*) FROM outbox WHERE channel = 'email'"),
                         pushes=scalar(world.engine, "SELECT count(*) FROM outbox WHERE channel = 'push'"))
        finally:
            world.close()


def kill_trial(kind: str, step: str, truth: Truth, tmp: Path, rng: random.Random) -> Trial:
    trial = Trial(kind, step)
    high = {"pull": truth.facts, "evaluate": truth.facts, "issue": len(truth.awards),
            "email": truth.emails, "push": truth.pushes}[step]
    trial.threshold = high if step == "evaluate" else 1 if step == "pull" else rng.randint(
        1 if step == "issue" else 0, max(1, high - 1))
    # A run's pull writes a batch per roster page: it is killed at a random moment after the run
    # begins (0-0.8 s, the sandbox's pull), the other steps once they have made random progress.
    delay = (0.0, 0.8) if step == "pull" else (0.0, 0.03)
    with database(kind, tmp) as url:
        world = World(tmp, url)
        try:
            proc = world.sync()
            probe = engine_of(url)
            try:
                while proc.poll() is None:
                    done = scalar(probe, PROGRESS[step])
                    if done >= trial.threshold:
                        time.sleep(rng.uniform(*delay))
                        if proc.poll() is None:
                            os.killpg(proc.pid, signal.SIGKILL)  # the process group this trial started
                            trial.killed = True
                            trial.at_kill = scalar(probe, "SELECT count(*) FROM facts") if step == "pull" \
                                else scalar(probe, PROGRESS[step])
                        break
                    time.sleep(0.002)
                proc.communicate(timeout=60)
            finally:
                probe.dispose()
            trial.leases_ended = world.end_leases()
            for _ in range(2):
                report = world.sync_to_end()
                trial.run_errors += [f"{e.get('source')} {e.get('endpoint')}: {e.get('message')}"[:200]
                                     for e in report.get("errors", [])]
                if report.get("status") == "no report":
                    trial.run_errors.append(str(report.get("stderr")))
            check(world, truth, trial)
        finally:
            world.close()
    return trial


def check(world: World, truth: Truth, trial: Trial) -> None:
    live = world.awards()
    have = Counter((e, b, p) for e, b, p in live)
    trial.duplicate_awards = sum(n - 1 for n in have.values() if n > 1)
    trial.lost_awards = len(truth.awards - {(e, b) for e, b, _ in live})
    trial.undelivered_emails = world.undelivered("email")
    trial.undelivered_pushes = world.undelivered("push")
    received = Counter((str(m["X-Badge-Bridge-Award"]), str(m["Message-ID"])) for m in world.catcher.messages)
    with world.engine.connect() as conn:
        award_ids = {r[0] for r in conn.execute(text("SELECT id FROM awards"))}
    trial.emails_never_received = len(award_ids - {a for a, _ in received})
    trial.duplicate_emails = sum(n - 1 for n in received.values() if n > 1)


def celery_trial(tmp: Path, truth: Truth, rng: random.Random, broker: str) -> Trial:
    """A worker SIGKILLed mid-task (prefork: its pool process and itself); the broker redelivers
    the unacknowledged task (acks_late) to a second worker, which finishes it."""
    trial = Trial("postgresql+celery", "worker")
    queue = f"bb-crash-{uuid.uuid4().hex[:8]}"
    with database("postgresql", tmp) as url:
        world = World(tmp, url)
        workers: list[subprocess.Popen[str]] = []

        def start(name: str) -> subprocess.Popen[str]:
            w = subprocess.Popen([sys.executable, "-m", "cli", "worker", "--broker", broker, "--concurrency", "1",
                                  "--queue", queue, "--hostname", f"{name}-{queue}@crash"], cwd=str(ROOT),
                                 env={**os.environ, "BADGE_BRIDGE_RESULT_BACKEND": "rpc://"},
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
                                 start_new_session=True)
            workers.append(w)
            return w

        try:
            from celery import Celery

            first = start("w1")
            client = Celery(broker=broker, backend="rpc://")
            client.send_task("badge_bridge.sync", args=[str(world.config)], queue=queue)
            step = rng.choice(["pull", "issue", "email", "push"])
            trial.step = f"worker:{step}"
            high = {"pull": truth.facts, "issue": len(truth.awards), "email": truth.emails,
                    "push": truth.pushes}[step]
            trial.threshold = rng.randint(1, max(1, high - 1))
            deadline = time.monotonic() + 300
            # a worker's pull is measured by the facts it stores (its threshold is in facts)
            progress = PROGRESS["evaluate"] if step == "pull" else PROGRESS[step]
            while time.monotonic() < deadline and first.poll() is None:
                done = scalar(world.engine, progress)
                if done >= trial.threshold:
                    time.sleep(rng.uniform(0, 0.03))
                    os.killpg(first.pid, signal.SIGKILL)
                    trial.killed, trial.at_kill = True, done
                    break
                time.sleep(0.002)
            if not trial.killed and first.poll() is None:
                # the step never reached its threshold in time: killed now (counted as not killed)
                os.killpg(first.pid, signal.SIGKILL)
            first.wait(timeout=30)
            trial.leases_ended = world.end_leases()
            start("w2")
            deadline = time.monotonic() + 300  # the redelivered task's run, however long it takes
            while time.monotonic() < deadline:
                if scalar(world.engine, "SELECT count(*) FROM runs WHERE status != 'running'") >= 1:
                    trial.redelivered = True
                    break
                time.sleep(0.2)
            else:
                trial.redelivered = False
                trial.run_errors.append("the task was not redelivered within 300 s")
            report = world.sync_to_end()  # the next ordinary run
            trial.run_errors += [f"{e.get('source')}: {e.get('message')}"[:200] for e in report.get("errors", [])]
            check(world, truth, trial)
        finally:
            for w in workers:
                if w.poll() is None:
                    os.killpg(w.pid, signal.SIGTERM)
            for w in workers:
                try:
                    w.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(w.pid, signal.SIGKILL)
            world.close()
    return trial


def totals(trials: list[Trial], key: Callable[[Trial], str]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for t in trials:
        row = out.setdefault(key(t), Counter())  # type: ignore[arg-type]
        row["trials"] += 1
        row["sigkills"] += int(t.killed)
        if t.redelivered is not None:
            row["redelivered"] += int(t.redelivered)
        for name in ("lost_awards", "duplicate_awards", "undelivered_emails", "undelivered_pushes",
                     "emails_never_received", "duplicate_emails"):
            row[name] += getattr(t, name)
    return {k: dict(v) for k, v in out.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=30, help="SIGKILL trials per database")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--celery", type=int, default=3, help="worker-kill trials (PostgreSQL)")
    parser.add_argument("--broker", default="amqp://guest:guest@127.0.0.1:5672//",
                        help="RabbitMQ requeues a dead worker's unacknowledged task at once")
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    import tempfile

    trials: list[Trial] = []
    truths: dict[str, Truth] = {}
    started = time.perf_counter()
    for kind in args.databases.split(","):
        with tempfile.TemporaryDirectory(prefix="bb-crash-") as tmp:
            truths[kind] = reference(kind, Path(tmp))
        for n in range(args.trials):
            with tempfile.TemporaryDirectory(prefix="bb-crash-") as tmp:
                trials.append(kill_trial(kind, STEPS[n % len(STEPS)], truths[kind], Path(tmp), rng))
            print(json.dumps(asdict(trials[-1])), file=sys.stderr, flush=True)
    if args.celery:
        truth = truths.get("postgresql")
        if truth is None:
            with tempfile.TemporaryDirectory(prefix="bb-crash-") as tmp:
                truth = truths["postgresql"] = reference("postgresql", Path(tmp))
        for _ in range(args.celery):
            with tempfile.TemporaryDirectory(prefix="bb-crash-") as tmp:
                trials.append(celery_trial(Path(tmp), truth, rng, args.broker))
            print(json.dumps(asdict(trials[-1])), file=sys.stderr, flush=True)
    summary = {
        "seconds": round(time.perf_counter() - started),
        "reference": {k: {"awards": len(t.awards), "facts": t.facts, "emails": t.emails, "pushes": t.pushes}
                      for k, t in truths.items()},
        "total": totals(trials, lambda t: "all")["all"] if trials else {},
        "by_database": totals(trials, lambda t: t.database),
        "by_step": totals(trials, lambda t: t.step),
        "trials": [asdict(t) for t in trials],
    }
    print(json.dumps(summary, indent=1))
    bad = summary["total"]
    return 1 if bad.get("lost_awards") or bad.get("duplicate_awards") or bad.get("undelivered_emails") \
        or bad.get("undelivered_pushes") or bad.get("emails_never_received") else 0


if __name__ == "__main__":
    raise SystemExit(main())
