"""Every input refused cleanly: hostile sign-in sheets, config files, rule files, platform
payloads and web requests are processed or refused with an error naming their place — never a
traceback, a 5xx, or a record half-written. Bounded Hypothesis runs of the cases of
chaos/cases.py (chaos/fuzz.py runs 10,000 of each)."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.errors import ConfigError, TomlError
from bridge.store import Store
from bridge.tomlloc import loads_toml
from connectors.registry import load as load_config

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from chaos.cases import KINDS, WebTarget, _web_make  # noqa: E402

BOUNDED = settings(max_examples=100, deadline=None, derandomize=True,
                   suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("inputs")
    store = Store(f"sqlite:///{tmp / 'fuzz.db'}", keys_dir=tmp / "keys")
    yield tmp, store
    store.close()


@pytest.fixture(autouse=True)
def secrets_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FUZZ_SMTP_PASSWORD", "smtp-pw")
    monkeypatch.setenv("FUZZ_ADMIN_TOKEN", "admin-token")
    monkeypatch.setenv("FUZZ_MOODLE_TOKEN", "moodle-token")


@pytest.mark.parametrize("kind", sorted(KINDS))
@BOUNDED
@given(seed=st.integers(min_value=0, max_value=2**32))
def test_no_input_crashes(scratch, kind: str, seed: int) -> None:
    tmp, store = scratch
    case = KINDS[kind].make(random.Random(seed))
    assert KINDS[kind].run(case, tmp, store) in ("ok", "refused", "unplaced")


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory):
    import os

    tmp = tmp_path_factory.mktemp("web")
    store = Store(f"sqlite:///{tmp / 'web.db'}", keys_dir=tmp / "keys")
    target = WebTarget(tmp, store)
    yield target
    store.close()
    os.environ.pop("FUZZ_ADMIN_TOKEN_WEB", None)


@BOUNDED
@given(seed=st.integers(min_value=0, max_value=2**32))
def test_no_web_request_gets_a_5xx(web, seed: int) -> None:
    assert web.run(_web_make(random.Random(seed))) in ("ok", "refused")


# -- the holes found by hand, each pinned -------------------------------------------------------

@pytest.mark.parametrize("text,key", [
    ("[smtp]\npassword = { env = 1 }\n", "smtp.password"),
    ("[web]\nadmin_token = { file = 3 }\n", "web.admin_token"),
    ('[sources.m]\nkind = ["moodle"]\nurl = "http://x"\ntoken = "t"\n', "sources.m.kind"),
    ("[sources.m]\nkind = 5\n", "sources.m.kind"),
])
def test_config_values_of_the_wrong_type_are_refused_naming_the_key(write_config, text, key) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write_config(text), secrets=True)
    assert err.value.key == key and err.value.line == 2


@pytest.mark.parametrize("nest", ["[" * 400 + "]" * 400, "{a=" * 400 + "1" + "}" * 400])
def test_toml_nested_hundreds_of_levels_is_refused_with_its_line(write_config, nest) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write_config(f'[bridge]\npublic_url = "http://127.0.0.1:8000"\nx = {nest}\n'))
    assert err.value.line == 3 and "nested more than" in str(err.value)
    with pytest.raises(TomlError) as rule_err:
        loads_toml(f"[badge]\n\n\ncondition = {nest}\n", "rules/deep.toml")
    assert str(rule_err.value).startswith("rules/deep.toml:4: ")


def test_a_rule_file_nested_hundreds_of_levels_is_one_rule_error(tmp_path) -> None:
    from badge_rules import load_rules
    from bridge.errors import RuleError

    (tmp_path / "deep.toml").write_text("[condition]\nall = " + "[" * 500 + "]" * 500 + "\n")
    with pytest.raises(RuleError) as err:
        load_rules(tmp_path, None)
    assert err.value.problems[0][:2] == (str(tmp_path / "deep.toml"), 2)


def test_a_config_file_that_is_not_utf8_is_refused(write_config, tmp_path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('[issuer]\nname = "Réseau"\n'.encode("latin-1"))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "not UTF-8" in str(err.value)


def test_every_file_error_names_its_line(write_config, tmp_path) -> None:
    from badge_rules import load_rules
    from bridge.errors import RuleError

    with pytest.raises(ConfigError) as err:
        load_config(write_config('[issuer]\nname = "Réseau\n'))  # unterminated, at the end
    assert err.value.line == 2
    path = tmp_path / "latin1.toml"
    path.write_bytes('[issuer]\nname = "R\xe9seau"\n'.encode("latin-1"))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.line == 2
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "empty.toml").write_text("# nothing yet\n")
    with pytest.raises(RuleError) as rule_err:
        load_rules(rules, None)
    assert all(line for _, line, _ in rule_err.value.problems)
