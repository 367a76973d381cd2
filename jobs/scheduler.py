"""The daemon: runs a sync every few minutes with APScheduler, never two at once.

A failing run is logged and the next one starts on time; the web app may be served beside it.
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

from apscheduler.schedulers.blocking import BlockingScheduler

from bridge.config import Config
from bridge.errors import BridgeError
from bridge.store import Store
from jobs.run import load_ruleset, run_sync

__all__ = ["run_daemon", "scheduled_run"]

log = logging.getLogger("badge_bridge.daemon")


def scheduled_run(config: Config, store: Store) -> dict[str, Any] | None:
    """One scheduled run; rules are re-read each time so an edit takes effect without restart."""
    try:
        report = run_sync(config, store, ruleset=load_ruleset(config), trigger="schedule")
    except BridgeError as exc:
        log.error("run refused: %s", exc)
        return None
    except Exception:
        log.exception("run failed")
        return None
    log.info("run %s %s: %s awards, emails %s, %s errors", report.run_id, report.status,
             report.awarded, report.emails, len(report.errors))
    return report.as_dict()


def run_daemon(config: Config, store: Store, every_seconds: int, *, serve: bool = False,
               max_runs: int | None = None, broker: str | None = None) -> int:
    """Run until SIGTERM/SIGINT (or `max_runs` runs); returns the number of runs made.

    With `broker`, each run is enqueued as a Celery task for the workers instead of run here.
    """
    scheduler = BlockingScheduler(timezone="UTC")
    done = {"runs": 0}
    lock = threading.Lock()

    def job() -> None:
        with lock:
            if broker:
                from jobs.tasks import configure, sync_task

                configure(broker)
                sync_task.delay(str(config.file))
            else:
                scheduled_run(config, store)
            done["runs"] += 1
            if max_runs is not None and done["runs"] >= max_runs:
                scheduler.shutdown(wait=False)

    from datetime import UTC, datetime

    scheduler.add_job(job, "interval", seconds=every_seconds, next_run_time=datetime.now(UTC),
                      max_instances=1, coalesce=True, misfire_grace_time=every_seconds, id="sync")
    server = None
    if serve:
        from bridge.console import ConsoleSetup
        from bridge.web.server import BackgroundServer
        from jobs.console import Console
        from jobs.doctor import diagnose

        server = BackgroundServer(config, store, config.web.host, config.web.port,
                                  ConsoleSetup(Console(config, store),
                                               doctor=lambda: diagnose(config))).start()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: scheduler.shutdown(wait=False))
    try:
        scheduler.start()
    finally:
        if server:
            server.stop()
    return done["runs"]
