"""`serve --workers 2`: two uvicorn processes serve the same store, each building the app from
the config file; a revocation made meanwhile is served by both at once (no stale cache)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "issuing_fixtures", Path(__file__).parents[1] / "issuing" / "conftest.py")
assert _spec and _spec.loader
fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fixtures)
make_world, port = fixtures.make_world, fixtures.port


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers={"Accept": "application/json"}),
                                    timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_two_worker_processes_serve_the_hosted_assertion_and_its_revocation(make_world, port,
                                                                             tmp_path) -> None:
    world = make_world(database_url=f"sqlite:///{tmp_path}/b.db")  # the store the fixture writes
    award = world.award()
    env = dict(os.environ, BADGE_BRIDGE_CONFIG=str(world.config.file))
    server = subprocess.Popen([sys.executable, "-m", "cli", "serve", "--port", str(port),
                               "--workers", "2"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/ob2/assertions/{award.id}"
    try:
        for _ in range(900):  # a bound for a server that never starts (0.2 s apart), not a speed check
            try:
                status, body = get(url)
                break
            except OSError:
                assert server.poll() is None, server.stdout and server.stdout.read()
                time.sleep(0.2)
        else:
            pytest.fail("the server never answered")
        assert status == 200 and json.loads(body)["id"] == world.issuer.urls.assertion(award.id)
        for _ in range(6):  # spread over both processes: each has built it
            assert get(url)[0] == 200
        world.store.awards.revoke(award.id, "Erreur")
        answers = [get(url) for _ in range(6)]
        assert {s for s, _ in answers} == {410}
        assert {json.loads(b)["revocationReason"] for _, b in answers} == {"Erreur"}
    finally:
        server.terminate()
        server.wait(timeout=30)
