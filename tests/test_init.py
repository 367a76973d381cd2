"""`badge-bridge init` on the sandbox platforms: it lists what the credential sees, writes a
config whose secret is an environment reference (never the value, never echoed) and a rule per
chosen course that `config check` and `rules check` accept; interactive and `--yes`."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import main
from sandbox import SandboxPlatform
from sandbox.edx_blocks import presence_block


def test_open_edx_with_yes_lists_staff_graded_blocks(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with SandboxPlatform("openedx", learners=5, seed=3) as p:
        result = CliRunner().invoke(main, [
            "init", "--kind", "openedx", "--url", p.base_url, "--client-id", p.client_id, "--yes"],
            env={"BADGE_BRIDGE_OPENEDX_SECRET": p.client_secret})
        assert result.exit_code == 0, result.output
        assert f"      block:{presence_block(p.world.courses[0])}  " in result.output
        assert "[staff-graded block]" in result.output and "✓ global staff" in result.output
        assert p.client_secret not in result.output
        text = (tmp_path / "bridge.toml").read_text(encoding="utf-8")
        assert p.client_secret not in text
        source = tomllib.loads(text)["sources"]["campus"]
        assert source["client_secret"] == {"env": "BADGE_BRIDGE_OPENEDX_SECRET"}
        assert source["courses"] == p.course_ids
        env = {"BADGE_BRIDGE_OPENEDX_SECRET": p.client_secret}
        checked = CliRunner().invoke(main, ["config", "check", "bridge.toml"], env=env)
        assert checked.exit_code == 0, checked.output
        rules = CliRunner().invoke(main, ["rules", "check", "--config", "bridge.toml"], env=env)
        assert rules.exit_code == 0, rules.output
        doctor = CliRunner().invoke(main, ["doctor", "--config", "bridge.toml", "--source",
                                           "campus"], env=env)
        assert doctor.exit_code == 0, doctor.output


def test_moodle_asked_step_by_step_the_token_is_not_echoed(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BADGE_BRIDGE_MOODLE_TOKEN", raising=False)
    with SandboxPlatform("moodle", learners=5, seed=3) as p:
        course = p.course_ids[0]
        result = CliRunner().invoke(main, ["--lang", "en", "init", "--output", "campus.toml"],
                                    input=f"moodle\n{p.base_url}\n{p.token}\n{course}\n")
    assert result.exit_code == 0, result.output
    assert p.token not in result.output
    assert "Set BADGE_BRIDGE_MOODLE_TOKEN in the environment of the commands below" in result.output
    assert "[attendance session]" in result.output and "[manual completion]" in result.output
    text = (tmp_path / "campus.toml").read_text(encoding="utf-8")
    assert p.token not in text and 'token = { env = "BADGE_BRIDGE_MOODLE_TOKEN" }' in text
    rule = tomllib.loads((tmp_path / "rules" / f"campus-{course}.toml").read_text(encoding="utf-8"))
    assert rule["condition"] == {"course_completed": {"source": "campus", "course": str(course)}}
    assert set(rule["badge"]["name"]) == {"fr", "en"}
    assert rule["badge"]["name"]["fr"].endswith(" terminé")


def test_what_init_refuses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BADGE_BRIDGE_MOODLE_TOKEN", raising=False)
    runner = CliRunner()
    no_secret = runner.invoke(main, ["init", "--kind", "moodle", "--url", "https://m.example.org",
                                     "--yes"])
    assert no_secret.exit_code == 2
    assert "set BADGE_BRIDGE_MOODLE_TOKEN to the credential, or pass --secret-env" in no_secret.output
    no_url = runner.invoke(main, ["init", "--kind", "moodle", "--yes"],
                           env={"BADGE_BRIDGE_MOODLE_TOKEN": "x"})
    assert no_url.exit_code == 2 and "Platform URL is needed with --yes" in no_url.output
    (tmp_path / "sheets").mkdir()
    first = runner.invoke(main, ["init", "--kind", "csv", "--path", "sheets", "--yes"])
    assert first.exit_code == 0, first.output
    again = runner.invoke(main, ["init", "--kind", "csv", "--path", "sheets", "--yes"])
    assert again.exit_code == 2 and "already exists; pass --force to replace it" in again.output
    fun = runner.invoke(main, ["init", "--kind", "fun", "--yes", "--output", "fun.toml"])
    assert fun.exit_code == 2 and "give the course keys with --course" in fun.output
