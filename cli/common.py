"""What every command shares: the `--config` option, loading the config with the connector
registry, and the one place where errors become a line on stderr and the README's exit code.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from bridge.config import Config
from bridge.errors import BridgeError, RuleError, exit_code

__all__ = ["config_option", "handle_errors", "load", "fail"]

F = TypeVar("F", bound=Callable[..., Any])

config_option = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
    envvar="BADGE_BRIDGE_CONFIG", help="Config file (default: $BADGE_BRIDGE_CONFIG).")


def load(config_path: Path | str | None) -> Config:
    """The config, each source validated by its connector's model."""
    from connectors.registry import load as load_with_connectors

    return load_with_connectors(config_path)


def fail(exc: BaseException) -> None:
    """Print a BridgeError as `error: …` lines (a rule error, one per problem) and exit."""
    if isinstance(exc, RuleError):
        for problem in exc.problems:
            click.echo(f"error: {RuleError.format_one(problem)}", err=True)
    else:
        click.echo(f"error: {exc}", err=True)
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
