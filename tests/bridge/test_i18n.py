"""Choosing a language and formatting in it: Accept-Language and platform tags negotiated against
the catalogs, Babel's dates and numbers, and clear errors for a broken catalog.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bridge import i18n
from bridge.errors import ConfigError


@pytest.mark.parametrize(("header", "tags"), [
    ("en-GB,en;q=0.9,fr;q=0.5", ["en-GB", "en", "fr"]),
    ("fr;q=0.3, de-CH, en;q=0.8", ["de-CH", "en", "fr"]),
    ("fr, en;q=0", ["fr"]),  # q=0: "not this one"
    ("en;q=bogus, fr", ["fr"]),
    ("", []),
    (None, []),
])
def test_accept_language_is_read_most_wanted_first(header: str | None, tags: list[str]) -> None:
    assert i18n.accept_language(header) == tags


@pytest.mark.parametrize(("preferred", "expected"), [
    (["fr-FR"], "fr"), (["fr_CA"], "fr"), (["FR"], "fr"), (["en-US", "fr"], "en"),
    (["de-CH", "fr"], "fr"), (["de"], "fr"), ([None, "*"], "fr"), (["pt_BR", "en"], "en"),
])
def test_a_tag_is_negotiated_against_the_catalogs(preferred: list[str | None], expected: str) -> None:
    assert i18n.negotiate(preferred, "fr") == expected


def test_dates_numbers_and_lists_follow_the_language_in_force() -> None:
    day = datetime(2026, 11, 29, 15, tzinfo=UTC)
    with i18n.language("fr"):
        # CLDR's French: abbreviated month, a non-breaking space before the percent sign.
        assert i18n.format_date(day) == "29 nov. 2026"
        assert i18n.format_percent(0.7) == "70\u00a0%" and i18n.format_percent(0.725) == "72,5\u00a0%"
        assert i18n.format_decimal(1234.5) == "1\u202f234,5"
        assert i18n.format_list(["a", "b", "c"], "or") == "a, b ou c"
        assert i18n.gettext("Status:") == "Statut\u00a0:"
        with i18n.language("en"):
            assert i18n.format_date(date(2026, 11, 29)) == "Nov 29, 2026"
            assert i18n.format_percent(0.7) == "70%" and i18n.gettext("Status:") == "Status:"
        assert i18n.current() == "fr"
    assert i18n.current() == i18n.SOURCE


def test_plural_forms_come_from_the_catalog() -> None:
    with i18n.language("fr"):
        forms = [i18n.npgettext("presences", "has {count}", "has {count}", n).format(count=n)
                 for n in (0, 1, 2)]
    assert forms == ["0 enregistrée", "1 enregistrée", "2 enregistrées"]


def test_display_names_and_open_graph_locales() -> None:
    assert [i18n.display_name(lang) for lang in ("fr", "en", "de")] == ["Français", "English", "Deutsch"]
    assert [i18n.territory_locale(lang) for lang in ("fr", "en", "pt_BR")] == ["fr_FR", "en_US", "pt_BR"]


def test_a_broken_catalog_is_named_with_its_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    po = tmp_path / "de" / "LC_MESSAGES" / "messages.po"
    po.parent.mkdir(parents=True)
    po.write_text('msgid ""\nmsgstr ""\n"Language: de\\n"\n\nmsgid "Valid"\nmsgstr "Gültig"\nmsgid\n',
                  encoding="utf-8")
    monkeypatch.setenv(i18n.ENV_DIR, str(tmp_path))
    assert "de" in i18n.languages()
    with pytest.raises(ConfigError) as caught:
        i18n.translations("de")
    assert str(caught.value).startswith(f"{po}:") and "invalid catalog" in str(caught.value)


def test_a_catalog_folder_must_be_named_by_a_language(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    po = tmp_path / "klingon" / "LC_MESSAGES" / "messages.po"
    po.parent.mkdir(parents=True)
    po.write_text('msgid ""\nmsgstr ""\n', encoding="utf-8")
    monkeypatch.setenv(i18n.ENV_DIR, str(tmp_path))
    with pytest.raises(ConfigError, match="'klingon' is not a language Babel knows"):
        i18n.languages()


def test_the_default_language_needs_a_catalog(tmp_path: Path) -> None:
    from connectors.registry import load

    (tmp_path / "bridge.toml").write_text('[bridge]\npublic_url = "https://b.example.org"\n'
                                          'default_language = "de"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load(tmp_path / "bridge.toml")
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'bridge.toml'}:3: bridge.default_language: ")
    assert "no catalog for 'de'; languages with one: en, fr" in message
