"""The run's steps as Celery tasks, for several machines sharing one PostgreSQL store.

The database constraints make a task delivered twice harmless; the broker is Redis or RabbitMQ.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from bridge.errors import ConfigError

try:
    from celery import Celery
except ImportError:  # a single host needs no broker; only the worker and `daemon --enqueue` do
    raise ConfigError("several machines (worker, daemon --enqueue) need Celery: "
                      "pip install 'badge-bridge[celery]'") from None

from bridge.store import Store
from connectors.registry import load as load_config

__all__ = ["app", "configure", "sync_task", "deliver_task"]

app = Celery("badge_bridge")
app.conf.update(
    task_acks_late=True,  # a worker that dies mid-task leaves it to another worker
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_serializer="json", accept_content=["json"], result_serializer="json",
    broker_connection_retry_on_startup=True,
)


def configure(broker_url: str | None = None, result_backend: str | None = None) -> Celery:
    """Point the app at a broker (default: $BADGE_BRIDGE_BROKER_URL)."""
    broker = broker_url or os.environ.get("BADGE_BRIDGE_BROKER_URL", "redis://127.0.0.1:6379/0")
    app.conf.update(broker_url=broker, result_backend=result_backend or os.environ.get(
        "BADGE_BRIDGE_RESULT_BACKEND") or (broker if broker.startswith("redis") else "rpc://"))
    return app


_stores: dict[str, Store] = {}
_stores_lock = threading.Lock()


def _store(url: str, keys_dir: Path | None = None) -> Store:
    """One engine per worker process and database."""
    with _stores_lock:
        if url not in _stores:
            _stores[url] = Store(url, keys_dir=keys_dir)
        return _stores[url]


@app.task(name="badge_bridge.sync")
def sync_task(config_path: str, sources: list[str] | None = None,
              steps: list[str] | None = None, courses: list[str] | None = None) -> dict[str, Any]:
    """A run; `sources` and `courses` make it one shard of a sync spread over workers."""
    from jobs.run import STEPS, run_sync

    config = load_config(config_path)
    report = run_sync(config, _store(config.bridge.db_url, config.bridge.keys_path), sources=sources,
                      steps=tuple(steps or STEPS), trigger="celery", courses=courses)
    return report.as_dict()


@app.task(name="badge_bridge.deliver")
def deliver_task(config_path: str) -> dict[str, int]:
    from jobs.deliver import deliver_emails

    config = load_config(config_path)
    return deliver_emails(config, _store(config.bridge.db_url, config.bridge.keys_path)).as_dict()
