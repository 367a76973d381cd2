"""`badge-bridge init` as a library: a source table for a platform, its probes and what its
credential sees (courses, in-person-looking activities), and the starter files: a config whose
secrets are `{ env = … }` references, never values, and one rule per chosen course.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from bridge import i18n
from bridge.config import SourceConfig
from bridge.errors import ConfigError
from bridge.i18n import gettext as _
from bridge.model import CourseSeen, Finding

__all__ = ["KINDS", "SECRET_ENV", "source_table", "discover", "probe", "write_starter", "rule_text"]

KINDS = ("moodle", "openedx", "fun", "csv")
# The environment variable each kind's secret is read from, unless the caller names another.
SECRET_ENV = {"moodle": "BADGE_BRIDGE_MOODLE_TOKEN", "openedx": "BADGE_BRIDGE_OPENEDX_SECRET",
              "fun": "BADGE_BRIDGE_FUN_API_KEY"}
SECRET_FIELD = {"moodle": "token", "openedx": "client_secret", "fun": "api_key"}


def source_table(kind: str, *, url: str = "", secret_env: str = "", client_id: str = "",
                 courses: Sequence[str] = (), path: str = "") -> dict[str, Any]:
    """The `[sources.<id>]` table as it goes in the file (the secret as `{ env = … }`)."""
    table: dict[str, Any] = {"kind": kind}
    if kind != "csv":
        table["url"] = url
    if kind == "openedx":
        table["client_id"] = client_id
    if kind in SECRET_FIELD and secret_env:
        table[SECRET_FIELD[kind]] = {"env": secret_env}
    if kind == "csv":
        table["path"] = path or "sheets"
    elif courses or kind != "moodle":
        table["courses"] = list(courses)
    return table


def _model(kind: str, table: dict[str, Any], secret: str | None, registry: Any) -> SourceConfig:
    values = {k: v for k, v in table.items() if not isinstance(v, dict)}
    if kind in SECRET_FIELD and secret is not None:
        values[SECRET_FIELD[kind]] = SecretStr(secret)
    if kind in ("openedx", "fun") and not values.get("courses"):
        values["courses"] = ["course-v1:none+none+none"]  # listing courses needs none yet
    values["retries"] = 1 if kind != "csv" else values.get("retries")
    values = {k: v for k, v in values.items() if v is not None}
    try:
        model: SourceConfig = registry.config_model(kind).model_validate(values)
    except ValueError as exc:  # pydantic's ValidationError: one line naming the field
        err = exc.errors()[0] if hasattr(exc, "errors") else {"loc": (), "msg": str(exc)}
        raise ConfigError(str(err["msg"]), key=".".join(str(p) for p in err["loc"])) from None
    return model


def _connector(kind: str, table: dict[str, Any], secret: str | None, source_id: str,
               registry: Any) -> Any:
    if registry is None:
        from connectors.registry import REGISTRY

        registry = REGISTRY
    return registry.make(source_id, _model(kind, table, secret, registry))


def discover(kind: str, table: dict[str, Any], secret: str | None, *, source_id: str = "campus",
             only: Sequence[str] = (), registry: Any = None) -> list[CourseSeen]:
    """The courses the credential sees and their in-person-looking activities ([] for a kind
    that cannot list them); SourceError when the platform refuses (the probes say why)."""
    connector = _connector(kind, table, secret, source_id, registry)
    try:
        finder = getattr(connector, "discover", None)
        return list(finder(only)) if finder is not None else []
    finally:
        connector.close()


def probe(kind: str, table: dict[str, Any], secret: str | None, *, source_id: str = "campus",
          registry: Any = None) -> list[Finding]:
    """The source's probes on `table`, with `secret` in place of its env reference."""
    from jobs.doctor import run_probes, source_probes

    connector = _connector(kind, table, secret, source_id, registry)
    try:
        return run_probes(source_probes(connector), source_id)
    finally:
        connector.close()


def _toml(value: Any) -> str:
    """A TOML value: JSON's string escapes are TOML's basic-string escapes."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(str(value), ensure_ascii=False)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "course"


def rule_text(source_id: str, course: CourseSeen) -> str:
    """A starter rule: the badge of the course completed, named in French and English."""
    names, descriptions = {}, {}
    for lang in ("fr", "en"):
        with i18n.language(lang):
            names[lang] = _("{course} completed").format(course=course.name or course.id)
            descriptions[lang] = _("Completed the course {course}.").format(
                course=course.name or course.id)
    with i18n.language("en"):
        comment = _("A starter rule written by badge-bridge init: edit the texts, add an image, "
                    "or combine conditions (docs/rules.md).")
    return "\n".join([
        f"# {comment}", "", "[badge]",
        f"id = {_toml(f'{_slug(source_id)}-{_slug(course.id)}')}",
        f"name = {_toml(names)}",
        f"description = {_toml(descriptions)}", "",
        "[condition]",
        f"course_completed = {_toml({'source': source_id, 'course': course.id})}", ""])


def write_starter(config_path: Path, source_id: str, table: dict[str, Any],
                  courses: Sequence[CourseSeen], *, smtp_host: str = "127.0.0.1",
                  smtp_port: int = 25, language: str = "fr", force: bool = False) -> list[Path]:
    """Write the config and a rule per course; the paths written. An existing file is kept
    (ConfigError) unless `force`."""
    rules = config_path.parent / "rules"
    files = [config_path] + [rules / f"{_slug(source_id)}-{_slug(c.id)}.toml" for c in courses]
    existing = [p for p in files if p.exists()]
    if existing and not force:
        raise ConfigError(_("already exists; pass --force to replace it"), file=str(existing[0]))
    with i18n.language("en"):
        header = _("Written by badge-bridge init. Secrets are read from the environment, never "
                   "from this file. Every option: config.example.toml.")
    lines = [f"# {header}", "", "[bridge]", 'public_url = "http://127.0.0.1:8000"',
             'data_dir = ".badge-bridge"', 'rules_dir = "rules"',
             f"default_language = {_toml(language)}", "", "[issuer]",
             'name = "badge-bridge"', 'url = "https://example.org"', 'email = "badges@example.org"',
             "", "[smtp]", f"host = {_toml(smtp_host)}", f"port = {smtp_port}", "",
             f"[sources.{source_id}]"]
    lines += [f"{key} = {_toml(value)}" for key, value in table.items()]
    config_path.parent.mkdir(parents=True, exist_ok=True)
    config_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rules.mkdir(exist_ok=True)
    for course, path in zip(courses, files[1:], strict=True):
        path.write_text(rule_text(source_id, course), encoding="utf-8")
    return files
