"""/metrics over HTTP: the store's four counts in the Prometheus text format, one registry per app."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from bridge.store import Store
from bridge.web.server import BackgroundServer, free_port

_spec = importlib.util.spec_from_file_location(
    "issuing_fixtures", Path(__file__).parents[1] / "issuing" / "conftest.py")
assert _spec and _spec.loader
fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fixtures)
make_world, world, served, port, fetch = (fixtures.make_world, fixtures.world, fixtures.served,
                                          fixtures.port, fixtures.fetch)


def scrape(fetch, base: str) -> dict[str, float]:
    status, body = fetch(f"{base}/metrics", accept="text/plain")
    assert status == 200
    return {s.name: s.value for family in text_string_to_metric_families(body.decode())
            for s in family.samples}


def test_two_apps_in_one_process_each_report_their_own_store(served, fetch, tmp_path) -> None:
    for _ in range(3):
        served.award()
    other = Store(f"sqlite:///{tmp_path / 'other.db'}")
    other_port = free_port()
    server = BackgroundServer(served.config, other, "127.0.0.1", other_port).start()
    try:
        mine = scrape(fetch, served.config.bridge.public_url)
        theirs = scrape(fetch, f"http://127.0.0.1:{other_port}")
    finally:
        server.stop()
        other.close()
    assert mine == {"badge_bridge_learners": 3.0, "badge_bridge_facts": 0.0,
                    "badge_bridge_awards": 3.0, "badge_bridge_emails_sent": 0.0}
    assert theirs == dict.fromkeys(mine, 0.0)
