"""Logs: one line per event with the run, source and course; JSON off a terminal or with
--log-json; the libraries' chatter at WARNING below -vv; never a secret, even at -vv where
urllib3 logs every request."""

from __future__ import annotations

import io
import json
import logging

import pytest
from click.testing import CliRunner

from bridge import logs
from bridge.web.server import free_port
from cli import main
from cli.demo import write_demo_config
from sandbox import SandboxPlatform


@pytest.fixture
def platform():
    with SandboxPlatform("moodle", learners=10, seed=7, profile="demo") as sandbox:
        yield sandbox


def test_a_verbose_sync_logs_json_lines_with_the_run_and_source_and_never_the_token(tmp_path, platform):
    path = tmp_path / "bridge.toml"
    write_demo_config(path, data_dir=tmp_path / "state", port=free_port(), sandbox_url=platform.base_url,
                      token=platform.token, smtp_port=free_port(), push=False)
    try:
        result = CliRunner().invoke(main, ["-vv", "--log-json", "sync", "--config", str(path)])
    finally:
        logs.setup(0)  # the next tests log as usual
    assert result.exit_code == 5, result.output
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert lines and all({"ts", "level", "logger", "run", "source", "course", "message"} <= set(doc)
                         for doc in lines)
    pulled = [doc for doc in lines if doc["logger"] == "badge_bridge.pull"]
    assert pulled and all(doc["run"] is not None and doc["source"] in ("sandbox", "rencontres")
                          for doc in pulled)
    assert any(doc["logger"].startswith("urllib3") for doc in lines)  # -vv: the libraries speak
    assert platform.token not in result.stderr + result.stdout


def test_library_lines_stay_below_warning_without_vv_and_text_on_a_terminal() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Tty()
    try:
        logs.setup(1, stream=out)
        logging.getLogger("alembic.runtime.migration").info("Running upgrade")
        logging.getLogger("urllib3.connectionpool").debug("GET /x?wstoken=abc")
        with logs.context(run=7, source="moodle", course="42"):
            logging.getLogger("badge_bridge.pull").info("pull done")
        logs.register_secret("hunter2-password")
        logging.getLogger("badge_bridge.x").warning(
            "cannot open postgresql://bb:hunter2-password@db/bb nor hunter2-password")
    finally:
        logs.setup(0)
    text = out.getvalue()
    assert "Running upgrade" not in text and "wstoken" not in text
    assert "[run=7 source=moodle course=42]: pull done" in text
    assert "hunter2" not in text and "postgresql://bb:***@db/bb nor ***" in text


def test_mask_url_keeps_everything_but_the_password() -> None:
    assert logs.mask_url("postgresql+psycopg://u:p%40ss@h:5432/d?x=1") == "postgresql+psycopg://u:***@h:5432/d?x=1"
    assert logs.mask_url("sqlite:////var/lib/bb/bridge.db") == "sqlite:////var/lib/bb/bridge.db"
    assert logs.mask_url("redis://:s3cret@127.0.0.1:6379/0") == "redis://:***@127.0.0.1:6379/0"


def test_progress_is_silent_off_a_terminal_and_drawn_on_one(monkeypatch) -> None:
    from bridge.progress import NO_PROGRESS
    from cli.progress import terminal_progress

    with terminal_progress() as progress:  # pytest's stderr is not a terminal
        assert progress is NO_PROGRESS

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    fake = Tty()
    monkeypatch.setattr("sys.stderr", fake)
    with terminal_progress() as progress:
        with progress.task("email", 3) as task:
            for _ in range(3):
                task.advance()
        with progress.task("pull moodle") as task:  # no total: a count
            task.advance(5)
    assert "email" in fake.getvalue() and "3/3" in fake.getvalue()
    with terminal_progress(enabled=False) as progress:  # --json: nothing drawn
        assert progress is NO_PROGRESS
