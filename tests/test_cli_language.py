"""The command line speaks --lang, else the config's default_language (when the file sets one),
else the environment's language, else English; a language added as a catalog is one more choice.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from bridge import i18n
from cli import main

DEMO = Path(__file__).resolve().parents[1] / "badge_rules" / "examples" / "demo"
FAILING_CASE = '''[[case]]
name = "one meetup is not enough"
badge = "b"
expect = "awarded"
facts = [ { kind = "presence", source = "moodle", course = "42", session = "7", tags = ["meetup"] } ]
'''


def run(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, list(args), env=env)


def config(tmp_path: Path, language: str | None) -> Path:
    path = tmp_path / "bridge.toml"
    path.write_text('[bridge]\npublic_url = "https://badges.example.org"\n'
                    f'rules_dir = "{DEMO}"\n'
                    + (f'default_language = "{language}"\n' if language else "")
                    + '[sources.sandbox]\nkind = "moodle"\nurl = "http://127.0.0.1:9"\ntoken = "t"\n'
                      'courses = ["42"]\n[sources.rencontres]\nkind = "meetups"\n', encoding="utf-8")
    return path


def test_lang_chooses_the_language_of_messages_and_badge_texts() -> None:
    fr = run("--lang", "fr", "rules", "check", str(DEMO))
    en = run("--lang", "en", "rules", "check", str(DEMO))
    assert fr.exit_code == en.exit_code == 0, fr.output + en.output
    assert "«SNT hybride : parcours terminé»  n’expire jamais" in fr.output.replace("\u00a0", " ")
    assert fr.output.splitlines()[-1] == "2 badges valides"
    assert "«Hybrid SNT: pathway completed»  never expires" in en.output
    assert en.output.splitlines()[-1] == "2 badges OK"
    assert i18n.current() == i18n.SOURCE  # the command's language ended with the command


@pytest.mark.parametrize(("file_says", "environment", "lang", "expected"), [
    ("fr", "en_US.UTF-8", None, "2 badges valides"),      # the config's language over $LANG
    (None, "fr_FR.UTF-8", None, "2 badges valides"),      # no language in the file: $LANG
    (None, "C.UTF-8", None, "2 badges OK"),              # nothing known: English
    ("fr", "fr_FR.UTF-8", "en", "2 badges OK"),          # --lang over everything
])
def test_the_language_is_lang_then_the_config_then_the_environment(
        tmp_path: Path, file_says: str | None, environment: str, lang: str | None, expected: str) -> None:
    args = (["--lang", lang] if lang else []) + ["rules", "check", "--config", str(config(tmp_path, file_says))]
    result = run(*args, env={"LANG": environment})
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == expected


def test_rule_test_failures_are_explained_in_the_language_chosen(tmp_path: Path) -> None:
    (tmp_path / "b.toml").write_text(
        '[badge]\nid = "b"\nname = "B"\ndescription = "B"\n'
        '[condition]\npresence = { source = "moodle", course = "42", tag = "meetup", at_least = 2 }\n',
        encoding="utf-8")
    (tmp_path / "b.test.toml").write_text(FAILING_CASE, encoding="utf-8")
    result = run("--lang", "fr", "rules", "test", str(tmp_path))
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"ÉCHEC  {tmp_path}/b.test.toml:1  one meetup is not enough",
        "      attribution attendue, non obtenue\u00a0: au moins 2 présences étiquetées meetup au "
        "cours 42 sur moodle\u00a0: 2 présences requises, 1 enregistrée",
        "0 réussi(s), 1 en échec"]


def test_an_unknown_language_is_refused_with_the_known_ones() -> None:
    result = run("--lang", "xx", "rules", "check", str(DEMO))
    assert result.exit_code == 2
    assert "no catalog for 'xx'; languages with one: en, fr" in result.output


def test_errors_are_framed_in_the_language_chosen(tmp_path: Path) -> None:
    result = run("--lang", "fr", "awards", "show", "nope", "--config", str(config(tmp_path, None)))
    assert result.exit_code == 1, result.output  # NotFound
    assert result.output == "erreur\u00a0: aucune attribution nope\n"


def test_a_language_added_as_a_catalog_can_be_chosen(tmp_path: Path, monkeypatch) -> None:
    po = tmp_path / "locale" / "de" / "LC_MESSAGES" / "messages.po"
    po.parent.mkdir(parents=True)
    po.write_text('msgid ""\nmsgstr ""\n"Language: de\\n"\n"Plural-Forms: nplurals=2; plural=(n != 1);\\n"\n\n'
                  'msgid "{count} badge OK"\nmsgid_plural "{count} badges OK"\n'
                  'msgstr[0] "{count} Abzeichen in Ordnung"\nmsgstr[1] "{count} Abzeichen in Ordnung"\n',
                  encoding="utf-8")
    monkeypatch.setenv(i18n.ENV_DIR, str(tmp_path / "locale"))
    result = run("--lang", "de", "rules", "check", str(DEMO))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "2 Abzeichen in Ordnung"
    assert "never expires" in result.output  # not in that catalog: the English of the code
