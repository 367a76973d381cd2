"""Several machines: `badge-bridge worker` processes behind a real broker (Redis, RabbitMQ) and
one PostgreSQL store. The same run delivered twice at once issues and sends each badge once."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from celery import Celery

from bridge.delivery.catcher import MailCatcher
from bridge.store import Store
from bridge.web.server import free_port
from cli.demo import write_demo_config
from connectors.registry import load as load_config
from sandbox import SandboxPlatform

BROKERS = {
    "redis": ("redis://127.0.0.1:6379/15", "redis://127.0.0.1:6379/14"),
    "rabbitmq": ("amqp://guest:guest@127.0.0.1:5672//", "rpc://"),
}


@pytest.mark.parametrize("broker_name", sorted(BROKERS))
def test_a_run_delivered_twice_to_two_workers_issues_each_badge_once(broker_name, pg_url, tmp_path,
                                                                   require_service):
    broker, backend = BROKERS[broker_name]
    require_service(broker)
    require_service("redis://127.0.0.1:6379")
    queue = f"bb-test-{os.getpid()}-{broker_name}"
    with SandboxPlatform("moodle", learners=40, seed=11, profile="demo") as platform:
        catcher = MailCatcher().start()
        workers = []
        try:
            path = tmp_path / "bridge.toml"
            write_demo_config(path, data_dir=tmp_path / "state", port=free_port(),
                              sandbox_url=platform.base_url, token=platform.token,
                              smtp_port=catcher.port)
            path.write_text(path.read_text().replace("[issuer]", f'database_url = "{pg_url}"\n\n[issuer]'))
            config = load_config(path)
            env = {**os.environ, "BADGE_BRIDGE_RESULT_BACKEND": backend}
            for n in range(2):  # two machines
                workers.append(subprocess.Popen(
                    [sys.executable, "-m", "cli", "worker", "--broker", broker, "--concurrency", "1",
                     "--queue", queue, "--hostname", f"w{n}-{queue}@test"],
                    env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
            client = Celery(broker=broker, backend=backend)
            results = [client.send_task("badge_bridge.sync", args=[str(path)], queue=queue)
                       for _ in range(2)]
            reports = [r.get(timeout=120) for r in results]
            store = Store(config.bridge.db_url)
            awards = [listed.award for listed in store.awards.listing()]
            assert sum(r["awarded"] for r in reports) == len(awards) > 0
            assert len({(a.learner_id, a.badge_id) for a in awards}) == len(awards)
            deadline = time.monotonic() + 300  # a wait for the mail, not a speed check
            while len(catcher.raw) < len(awards) and time.monotonic() < deadline:
                time.sleep(0.2)
            sent = [m["X-Badge-Bridge-Award"] for m in catcher.messages]
            assert sorted(sent) == sorted(a.id for a in awards)
        finally:
            for w in workers:
                w.terminate()
            for w in workers:
                w.wait(timeout=30)
            catcher.stop()
