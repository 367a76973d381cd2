"""/metrics, /healthz and /readyz over HTTP.

/metrics: the store's counts, runs by status, each source's last run, the outbox's depth, age
and failures by reason, in the Prometheus text format, one registry per app, and only for a
Bearer admin or metrics token. /healthz: alive. /readyz: the store and each source's last run.
"""

from __future__ import annotations

import importlib.util
import json
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy import update

from bridge.config import Config
from bridge.errors import DeliveryError, SourceError
from bridge.store import NewOutboxItem, Store
from bridge.store.schema import runs
from bridge.web.server import BackgroundServer, free_port

_spec = importlib.util.spec_from_file_location(
    "issuing_fixtures", Path(__file__).parents[1] / "issuing" / "conftest.py")
assert _spec and _spec.loader
fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fixtures)
make_world, world, port = fixtures.make_world, fixtures.world, fixtures.port

TOKEN = "metrics-t0ken-for-tests"


def with_web(config: Config, **web: object) -> Config:
    return config.model_copy(update={"web": config.web.model_copy(update=web)})


def get(url: str, token: str | None = None) -> tuple[int, bytes]:
    headers = {"Accept": "text/plain"} | ({"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers)) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def scrape(base: str, token: str = TOKEN) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    status, body = get(f"{base}/metrics", token)
    assert status == 200, body
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body.decode()) for s in family.samples}


def test_two_apps_in_one_process_each_report_their_own_store(world, port, tmp_path) -> None:
    config = with_web(world.config, metrics_token=SecretStr(TOKEN))
    for _ in range(3):
        world.award()
    other = Store(f"sqlite:///{tmp_path / 'other.db'}")
    other_port = free_port()
    servers = [BackgroundServer(config, world.store, "127.0.0.1", port).start(),
               BackgroundServer(config, other, "127.0.0.1", other_port).start()]
    try:
        mine = scrape(f"http://127.0.0.1:{port}")
        theirs = scrape(f"http://127.0.0.1:{other_port}")
    finally:
        for server in servers:
            server.stop()
        other.close()
    counts = {name: v for (name, labels), v in mine.items() if not labels}
    assert counts == {"badge_bridge_learners": 3.0, "badge_bridge_facts": 0.0,
                      "badge_bridge_awards": 3.0, "badge_bridge_emails_sent": 0.0}
    assert {name: v for (name, labels), v in theirs.items() if not labels} == dict.fromkeys(counts, 0.0)


def test_metrics_need_a_token_and_say_runs_requests_and_the_outbox(world, port) -> None:
    store = world.store
    # A run that fetched (two answers, one failure) and left three emails the server refused.
    run = store.runs.begin(["lms"])
    store.runs.record_error(run, SourceError("down", source="lms", endpoint="core_x", status=503))
    store.outbox.add([NewOutboxItem(key=f"k{i}", channel="email", payload={}) for i in range(3)])
    for item in store.outbox.claim("email", run_id=run):
        store.outbox.retry(item.id, "refused", datetime.now(UTC) + timedelta(hours=1),
                           reason=DeliveryError("x", reason="smtp_unreachable").reason)
    store.runs.finish(run, "partial", {"sources": {"lms": {"statuses": {"200": 2, "503": 1},
                                                           "errors": 1}}})
    store.runs.begin(["lms"])  # running, in this process: alive
    dead = store.runs.begin(["lms"])
    with store.engine.begin() as conn:  # a run whose heartbeat stopped long ago
        conn.execute(update(runs).where(runs.c.id == dead).values(
            host="elsewhere", heartbeat_at=datetime.now(UTC) - timedelta(hours=1)))

    config = with_web(world.config, admin_token=SecretStr("admin-t0ken-for-tests"),
                      metrics_token=SecretStr(TOKEN))
    server = BackgroundServer(config, store, "127.0.0.1", port).start()
    base = f"http://127.0.0.1:{port}"
    try:
        assert get(f"{base}/metrics")[0] == 401
        assert get(f"{base}/metrics", "wrong-token")[0] == 401
        assert get(f"{base}/metrics", "admin-t0ken-for-tests")[0] == 200
        got = scrape(base)
        status, body = get(f"{base}/api/admin/runs/{run}", "admin-t0ken-for-tests")
        assert status == 200 and json.loads(body)["status"] == "partial"
        assert json.loads(body)["errors"][0]["endpoint"] == "core_x"
        assert get(f"{base}/api/admin/runs/{run}", TOKEN)[0] == 401  # the metrics token is not admin
        listed = json.loads(get(f"{base}/api/admin/runs?status=interrupted", "admin-t0ken-for-tests")[1])
        assert [r["id"] for r in listed] == [dead]
    finally:
        server.stop()
    assert got[("badge_bridge_runs", (("status", "partial"),))] == 1
    assert got[("badge_bridge_runs", (("status", "running"),))] == 1
    assert got[("badge_bridge_runs", (("status", "interrupted"),))] == 1
    assert got[("badge_bridge_last_run_requests", (("source", "lms"), ("status", "503")))] == 1
    assert got[("badge_bridge_last_run_requests", (("source", "lms"), ("status", "200")))] == 2
    assert got[("badge_bridge_last_run_errors", (("source", "lms"),))] == 1
    assert got[("badge_bridge_outbox_items", (("channel", "email"), ("status", "pending")))] == 3
    assert got[("badge_bridge_outbox_failures", (("channel", "email"), ("reason", "smtp_unreachable")))] == 3
    assert got[("badge_bridge_outbox_oldest_seconds", (("channel", "email"), ("status", "pending")))] >= 0


def test_metrics_do_not_exist_without_a_token(world, port) -> None:
    server = BackgroundServer(world.config, world.store, "127.0.0.1", port).start()
    try:
        assert get(f"http://127.0.0.1:{port}/metrics")[0] == 404
        assert get(f"http://127.0.0.1:{port}/healthz")[0] == 200
    finally:
        server.stop()


def test_readyz_needs_the_store_and_a_recent_run_of_every_source(world, port, tmp_path) -> None:
    from bridge.web.health import readiness
    from connectors.registry import load as load_config

    path = tmp_path / "ready.toml"
    path.write_text(f"""[bridge]
public_url = "http://127.0.0.1:{port}"
data_dir = "{tmp_path / 'state'}"
database_url = "sqlite:///{tmp_path / 'ready.db'}"
[issuer]
name = "Ready"
url = "https://example.org"
email = "badges@example.org"
[sources.sheet]
kind = "csv"
path = "{tmp_path}"
course = "87"
[sources.off]
kind = "csv"
path = "{tmp_path}"
course = "88"
enabled = false
""")
    config = load_config(path)
    store = Store(config.bridge.db_url)
    server = BackgroundServer(config, store, "127.0.0.1", port).start()
    try:
        status, body = get(f"http://127.0.0.1:{port}/readyz")
        assert status == 503 and json.loads(body)["problems"] == ["source sheet: no finished run yet"]
        run = store.runs.begin(["sheet"])
        store.runs.finish(run, "partial", {})
        status, body = get(f"http://127.0.0.1:{port}/readyz")
        assert status == 200, body
        said = json.loads(body)
        assert said["store"] == "reachable" and said["sources"]["sheet"]["last_run"] == run
        assert "off" not in said["sources"]  # a disabled source is not waited for
    finally:
        server.stop()
    ready, said = readiness(config, store, now=datetime.now(UTC) + timedelta(days=1))
    assert not ready and "ready_max_age" in said["problems"][0]
    store.close()
