"""What every command shares: the `--config` and `--lang` options, loading the config with the
connector registry, and the one place where errors become a line on stderr and the README's
exit code.

A command speaks `--lang`, else the config's `default_language` (when the file sets one), else
the language of the environment (LC_ALL, LC_MESSAGES, LANG), else English.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from bridge import i18n
from bridge.config import Config
from bridge.errors import BridgeError, RuleError, exit_code
from bridge.i18n import gettext as _

__all__ = ["config_option", "lang_option", "speak_environment_language", "handle_errors", "load",
           "fail"]

F = TypeVar("F", bound=Callable[..., Any])

config_option = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
    envvar="BADGE_BRIDGE_CONFIG", help="Config file (default: $BADGE_BRIDGE_CONFIG).")


_CHOSEN = "badge_bridge.lang"  # ctx.meta: the language --lang chose, shared by the subcommands


def _speak(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is None:
        return
    known = i18n.languages()
    lang = i18n.negotiate([value], "")
    if not lang:
        raise click.BadParameter(_("no catalog for '{lang}'; languages with one: {known}").format(
            lang=value, known=", ".join(known)), ctx=ctx, param=param)
    ctx.meta[_CHOSEN] = lang
    ctx.with_resource(i18n.language(lang))  # undone when the command ends


lang_option = click.option(
    "--lang", metavar="LANG", callback=_speak, expose_value=False, is_eager=True,
    help="Language of the messages and texts shown (fr, en…; default: the config's "
         "default_language, else $LANG).")


def speak_environment_language(ctx: click.Context) -> None:
    """The language of the environment, until --lang or a config says otherwise."""
    if _CHOSEN not in ctx.meta:
        tags = [os.environ.get(name, "").split(".")[0].split("@")[0]
                for name in ("LC_ALL", "LC_MESSAGES", "LANG")]
        ctx.with_resource(i18n.language(i18n.negotiate(tags, i18n.SOURCE)))


def load(config_path: Path | str | None, *, secrets: bool = False) -> Config:
    """The config, each source validated by its connector's model; its default_language is
    spoken from now on if the file sets one and --lang did not choose. The sources' secrets are
    read now only with `secrets` (commands that talk to the platforms), else when first used."""
    from bridge.logs import register_secrets_of
    from connectors.registry import load as load_with_connectors

    config = load_with_connectors(config_path, secrets=secrets)
    register_secrets_of(config)  # masked in every log line and error printed from now on
    ctx = click.get_current_context(silent=True)
    if ctx is not None and _CHOSEN not in ctx.meta and "default_language" in config.bridge.model_fields_set:
        ctx.with_resource(i18n.language(config.bridge.default_language))
    return config


def fail(exc: BaseException) -> None:
    """Print a BridgeError as `error: …` lines (a rule error, one per problem) and exit."""
    problems = ([RuleError.format_one(p) for p in exc.problems] if isinstance(exc, RuleError)
                else list(getattr(exc, "lines", None) or [str(exc)]))
    from bridge.logs import redact

    for problem in problems:
        click.echo(_("error: {problem}").format(problem=redact(problem)), err=True)
    sys.exit(exit_code(exc))


def handle_errors(fn: F) -> F:
    """Turn a BridgeError into `error: …` lines and its exit code, never a traceback."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except BridgeError as exc:
            fail(exc)
    return wrapper  # type: ignore[return-value]
