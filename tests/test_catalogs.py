"""The catalogs hold every text people read, and French reads as French: extracted with Babel
exactly as `make messages` does, compared with each bridge/locale/<lang>/LC_MESSAGES/messages.po.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po
from jinja2 import nodes

from bridge import i18n
from bridge.delivery.templates import environment

REPO = Path(__file__).resolve().parents[1]
TEMPLATES = REPO / "bridge" / "templates"
CATALOGS = sorted(i18n.LOCALE_DIR.glob("*/LC_MESSAGES/messages.po"))
NBSP, NNBSP = "\u00a0", "\u202f"


def key(message: Message) -> tuple[str | None, str]:
    return message.context, message.id[0] if isinstance(message.id, tuple) else message.id


def read(path: Path) -> Catalog:
    with path.open("rb") as f:
        return read_po(f)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    """The texts the code and templates use, found as `make messages` finds them."""
    pot = tmp_path_factory.mktemp("pot") / "messages.pot"
    proc = subprocess.run([str(Path(sys.executable).with_name("pybabel")), "extract", "-F", "babel.cfg",
                           "--sort-output", "-o", str(pot), "."], cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return read(pot)


def test_the_built_in_languages_are_french_and_english() -> None:
    assert [p.parents[1].name for p in CATALOGS] == ["en", "fr"]
    assert i18n.languages() == ("en", "fr")


@pytest.mark.parametrize("po", CATALOGS, ids=lambda p: p.parents[1].name)
def test_every_text_of_the_code_is_in_the_catalog_and_nothing_else(extracted: Catalog, po: Path) -> None:
    wanted = {key(m) for m in extracted if m.id}
    present = {key(m) for m in read(po) if m.id}
    assert not wanted - present, f"run `make messages`, then translate: {sorted(wanted - present)}"
    assert not present - wanted, f"no longer used, run `make messages`: {sorted(present - wanted)}"


@pytest.mark.parametrize("po", CATALOGS, ids=lambda p: p.parents[1].name)
def test_no_entry_is_fuzzy_and_placeholders_match(po: Path) -> None:
    catalog = read(po)
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert not fuzzy, f"{po}: fuzzy entries are not shown until reviewed: {fuzzy}"
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        allowed = set().union(*(_placeholders(i) for i in ids))
        for string in filter(None, strings):
            assert _placeholders(string) <= allowed, (
                f"{po}: {message.id!r} → {string!r} uses a placeholder the code does not give")
    assert not [e for _, e in catalog.check() if e], f"{po}: {list(catalog.check())}"


@pytest.mark.parametrize("po", [p for p in CATALOGS if p.parents[1].name != i18n.SOURCE],
                         ids=lambda p: p.parents[1].name)
def test_every_entry_is_translated(po: Path) -> None:
    """English is the language of the code: its catalog only rewords. Every other is complete."""
    untranslated = [m.id for m in read(po) if m.id and not all(
        m.string if isinstance(m.string, tuple) else (m.string,))]
    assert not untranslated, f"translate these in {po}: {untranslated}"


def test_french_typography() -> None:
    catalog = read(i18n.LOCALE_DIR / "fr" / "LC_MESSAGES" / "messages.po")
    problems = [f"{problem}: {string!r}" for message in catalog if message.id
                for string in (message.string if isinstance(message.string, tuple) else (message.string,))
                for problem in typography(string)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("bad", ["Statut : ", "Statut:", "l'image", 'le badge "X"', "« X »", "70 %"])
def test_the_typography_check_catches_the_usual_slips(bad: str) -> None:
    assert typography(bad)


def typography(string: str) -> list[str]:
    """What French typography finds wrong: straight quotes and apostrophes, and an ordinary space
    (or none) before : ; ? ! % » or after « instead of a non-breaking one."""
    text = re.sub(r"<[^>]*>|%\(\w+\)s|\{\w+\}", "", string)  # tags and placeholders
    problems = []
    if "'" in text or '"' in text:
        problems.append("straight quote or apostrophe")
    if re.search(rf"(?<![{NBSP}{NNBSP}])[:;?!%»]|«(?![{NBSP}{NNBSP}])", text):
        problems.append("no non-breaking space at a sign")
    return problems


@pytest.mark.parametrize("template", sorted(p.relative_to(TEMPLATES).as_posix()
                                            for p in TEMPLATES.rglob("*.j2")))
def test_templates_have_no_text_outside_the_catalogs(template: str) -> None:
    """Every word a template writes is in `{% trans %}` or `_()`; what is left once the markup
    is removed has no letters."""
    env = environment()
    source = env.loader.get_source(env, template)[0]  # type: ignore[union-attr]
    literal = " ".join(n.data for n in env.parse(source).find_all(nodes.TemplateData))
    text = re.sub(r"<style>.*?</style>|<[^>]*>|&\w+;", " ", literal, flags=re.S)
    assert not re.search(r"[^\W\d_]", text), f"{template}: text outside the catalogs: {text.split()}"


def _placeholders(text: str) -> set[str]:
    return {a or b for a, b in re.findall(r"\{(\w+)\}|%\((\w+)\)s", text)}


SAYING = {"echo", "confirm", "ClickException", "BadParameter", "NotFound", "ConfigError"}
TRANSLATING = {"_", "gettext", "ngettext", "pgettext", "npgettext"}
# Words a command prints as they are written elsewhere: the config file's keys.
DATA_WORDS = {"public_url", "database", "rules_dir"}


@pytest.mark.parametrize("module", sorted(p.name for p in (REPO / "cli").glob("*.py")))
def test_commands_say_nothing_outside_the_catalogs(module: str) -> None:
    """What a command prints (echo, confirm, its errors) is built from `_()`/`ngettext()`; the
    literal text left around them is punctuation and layout, never words."""
    tree = ast.parse((REPO / "cli" / module).read_text(encoding="utf-8"))
    found = [(call.lineno, text) for call in ast.walk(tree)
             if isinstance(call, ast.Call) and _name(call.func) in SAYING and call.args
             for text in _literals(call.args[0])
             if set(re.findall(r"[^\W\d_]\w*", text)) - DATA_WORDS]
    assert not found, f"cli/{module}: words outside the catalogs: {found}"


def _name(func: ast.expr) -> str:
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _literals(node: ast.AST) -> Iterator[str]:
    """The string literals of an expression, except inside translating calls, arguments of
    other calls (data: json.dumps(row)) and subscripts or format specs."""
    if isinstance(node, ast.Call):
        if _name(node.func) not in TRANSLATING:
            yield from _literals(node.func)
        return
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.value
        return
    if isinstance(node, ast.Subscript):
        yield from _literals(node.value)
        return
    if isinstance(node, ast.FormattedValue):
        yield from _literals(node.value)
        return
    for child in ast.iter_child_nodes(node):
        yield from _literals(child)
