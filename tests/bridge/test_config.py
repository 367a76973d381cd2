"""Config files: errors name file, key and line; secrets come from the environment, never shown."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from bridge.errors import ConfigError
from cli import main
from connectors.registry import load as load_config

GOOD = '''
[bridge]
public_url = "https://badges.example.org/"
data_dir = "state"

[sources.moodle-nice]
kind = "moodle"
url = "https://moodle.example.org"
token = { env = "TEST_MOODLE_TOKEN" }
courses = [42, "43"]
'''


def test_secret_from_environment_is_loaded_and_never_printed(write_config, monkeypatch):
    monkeypatch.setenv("TEST_MOODLE_TOKEN", "s3cr3t-token-value")
    cfg = load_config(write_config(GOOD))
    src = cfg.sources["moodle-nice"]
    assert src.token.get_secret_value() == "s3cr3t-token-value"
    assert "s3cr3t" not in repr(cfg) and "s3cr3t" not in str(src)
    assert src.courses == ["42", "43"]
    assert cfg.bridge.public_url == "https://badges.example.org"
    assert cfg.bridge.data_dir.is_absolute() and cfg.bridge.data_dir.name == "state"


def test_missing_environment_variable_names_key_and_line(write_config, monkeypatch):
    monkeypatch.delenv("TEST_MOODLE_TOKEN", raising=False)
    path = write_config(GOOD)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value) == (f"{path}:9: sources.moodle-nice.token: "
                              "environment variable TEST_MOODLE_TOKEN is not set")


def test_wrong_type_names_key_and_line(write_config, monkeypatch):
    monkeypatch.setenv("TEST_MOODLE_TOKEN", "x")
    path = write_config(GOOD.replace('courses = [42, "43"]', 'courses = [42]\npage_size = "big"'))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith(f"{path}:11: sources.moodle-nice.page_size: Input should be a valid integer")


def test_unknown_key_and_unknown_kind_are_refused(write_config):
    path = write_config('[bridge]\npublic_url = "http://x"\ncolour = "blue"\n')
    with pytest.raises(ConfigError, match=r":3: bridge.colour: Extra inputs are not permitted"):
        load_config(path)
    path = write_config('[sources.a]\nkind = "blackboard"\n')
    with pytest.raises(ConfigError, match=r":2: sources.a.kind: unknown source kind 'blackboard'"):
        load_config(path)


def test_toml_syntax_error_names_line(write_config):
    path = write_config('[bridge]\npublic_url = "http://x\n')
    with pytest.raises(ConfigError, match=rf"{path}:2: invalid TOML"):
        load_config(path)


def test_config_check_command_one_line_error_and_exit_code(write_config, monkeypatch):
    monkeypatch.delenv("TEST_MOODLE_TOKEN", raising=False)
    path = write_config(GOOD)
    proc = CliRunner().invoke(main, ["config", "check", str(path)])
    assert proc.exit_code == 2
    assert proc.stderr.strip().splitlines() == [
        f"error: {path}:9: sources.moodle-nice.token: environment variable TEST_MOODLE_TOKEN is not set"]
    monkeypatch.setenv("TEST_MOODLE_TOKEN", "s3cr3t-token-value")
    # config check also checks what the file refers to: a rules folder whose rules check
    (path.parent / "rules").mkdir()
    (path.parent / "rules" / "done.toml").write_text(
        '[badge]\nid = "done"\nname = { en = "Done" }\ndescription = { en = "Done." }\n'
        'criteria = { en = "Complete course 42." }\n\n[condition]\n'
        'course_completed = { source = "moodle-nice", course = "42" }\n', encoding="utf-8")
    proc = CliRunner().invoke(main, ["config", "check", str(path)])
    assert proc.exit_code == 0, proc.stderr
    assert "source moodle-nice: kind moodle" in proc.stdout
    assert "s3cr3t" not in proc.stdout + proc.stderr


def test_example_config_is_valid(monkeypatch):
    from pathlib import Path

    REPO = Path(__file__).resolve().parents[2]
    monkeypatch.setenv("BADGE_BRIDGE_MOODLE_TOKEN", "t")
    monkeypatch.setenv("BADGE_BRIDGE_OPENEDX_CLIENT_SECRET", "s")
    cfg = load_config(REPO / "config.example.toml")
    assert {s.kind for s in cfg.sources.values()} == {"moodle", "openedx", "fun", "csv", "meetups"}
    assert cfg.sources["emargement"].path == REPO / "sheets"  # relative to the config file
    from badge_rules import load_rules

    load_rules(cfg.bridge.rules_dir, cfg.source_courses())


def test_commands_that_talk_to_no_platform_start_without_the_sources_secrets(write_config, monkeypatch,
                                                                             tmp_path):
    monkeypatch.delenv("TEST_MOODLE_TOKEN", raising=False)
    (tmp_path / "rules").mkdir()
    path = write_config(GOOD.replace('data_dir = "state"', f'data_dir = "{tmp_path / "state"}"\n'
                                     f'rules_dir = "{tmp_path / "rules"}"'))
    cfg = load_config(path, secrets=False)
    with pytest.raises(ConfigError, match=":10: sources.moodle-nice.token: environment variable"):
        cfg.sources["moodle-nice"].token.get_secret_value()  # type: ignore[attr-defined]
    listed = CliRunner().invoke(main, ["awards", "list", "--config", str(path)])
    assert listed.exit_code == 0, listed.stderr
    synced = CliRunner().invoke(main, ["sync", "--config", str(path)])
    assert synced.exit_code == 2
    assert synced.stderr.strip().endswith("sources.moodle-nice.token: environment variable "
                                          "TEST_MOODLE_TOKEN is not set")
