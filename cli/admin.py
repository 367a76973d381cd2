"""`badge-bridge admin add|password|remove|list|audit`: the web console's accounts and its audit log,
and the console's services as `serve` hands them to the web app.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bridge.errors import NotFound
from bridge.i18n import gettext as _

from .common import config_option, handle_errors, load

if TYPE_CHECKING:
    from bridge.config import Config
    from bridge.console import ConsoleSetup
    from bridge.store import Store

__all__ = ["admin", "console_setup"]

PASSWORD_ENV = "BADGE_BRIDGE_ADMIN_PASSWORD"


def console_setup(config: Config, store: Store) -> ConsoleSetup:
    """The console's services over this config and store, and the health check
    (`badge-bridge doctor`) whose failures and warnings the dashboard lists."""
    from bridge.console import ConsoleSetup
    from jobs.console import Console
    from jobs.doctor import diagnose

    return ConsoleSetup(Console(config, store), doctor=lambda: diagnose(config))


def _password(username: str, from_env: bool) -> str:
    """From $BADGE_BRIDGE_ADMIN_PASSWORD with --password-from-env (scripts), else typed twice,
    never echoed."""
    from bridge.accounts import MIN_LENGTH

    if from_env:
        password = os.environ.get(PASSWORD_ENV, "")
        if not password:
            raise click.UsageError(_("--password-from-env: ${name} is empty or not set").format(
                name=PASSWORD_ENV))
    else:
        password = click.prompt(_("Password"), hide_input=True, confirmation_prompt=True)
    if len(password) < MIN_LENGTH:
        raise click.BadParameter(_("the password is too short: at least {count} characters")
                                 .format(count=MIN_LENGTH), param_hint="password")
    if password.strip().lower() == username.strip().lower():
        raise click.BadParameter(_("the password must not be the account's name"),
                                 param_hint="password")
    return password


def _store(config_path: Path | None) -> Store:
    from bridge.store import Store

    bridge = load(config_path).bridge
    return Store(bridge.db_url, keys_dir=bridge.keys_path)


@click.group()
def admin() -> None:
    """Accounts of the web console (/admin) and its audit log."""


@admin.command("add")
@config_option
@click.argument("username")
@click.option("--password-from-env", is_flag=True,
              help=f"Read the password from ${PASSWORD_ENV} instead of asking for it.")
@handle_errors
def admin_add(config_path: Path | None, username: str, password_from_env: bool) -> None:
    """Create a console account USERNAME; its password is asked for (never echoed) and stored
    as an argon2id hash."""
    from bridge.accounts import hash_password

    username = username.strip()
    if not username or len(username) > 100 or any(c.isspace() for c in username):
        raise click.BadParameter(_("a name of 1 to 100 characters without spaces"),
                                 param_hint="USERNAME")
    store = _store(config_path)
    if store.admin.account(username) is not None:
        raise click.ClickException(_("an account named {name} exists already; "
                                     "`admin password {name}` changes its password").format(name=username))
    store.admin.add_account(username, hash_password(_password(username, password_from_env)))
    click.echo(_("account {name} created").format(name=username))


@admin.command("password")
@config_option
@click.argument("username")
@click.option("--password-from-env", is_flag=True,
              help=f"Read the password from ${PASSWORD_ENV} instead of asking for it.")
@handle_errors
def admin_password(config_path: Path | None, username: str, password_from_env: bool) -> None:
    """Set a new password for USERNAME; its open sessions end."""
    from bridge.accounts import hash_password

    store = _store(config_path)
    if store.admin.account(username) is None:
        raise NotFound(_("no account named {name}").format(name=username))
    store.admin.set_password(username, hash_password(_password(username, password_from_env)))
    click.echo(_("password of {name} changed").format(name=username))


@admin.command("remove")
@config_option
@click.argument("username")
@handle_errors
def admin_remove(config_path: Path | None, username: str) -> None:
    """Remove the account USERNAME; its open sessions end at once (the audit log keeps its name)."""
    if not _store(config_path).admin.remove_account(username):
        raise NotFound(_("no account named {name}").format(name=username))
    click.echo(_("account {name} removed").format(name=username))


@admin.command("list")
@config_option
@handle_errors
def admin_list(config_path: Path | None) -> None:
    """The console's accounts, one per line."""
    for name in _store(config_path).admin.accounts():
        click.echo(name)


@admin.command("audit")
@config_option
@click.option("--limit", default=50, show_default=True, help="The latest N entries.")
@handle_errors
def admin_audit(config_path: Path | None, limit: int) -> None:
    """What was done in the console, newest first: when, who, what, on what."""
    import json

    for entry in _store(config_path).admin.audit_log(limit):
        click.echo(f"{entry.at.isoformat()}  {entry.actor}  {entry.action}  {entry.target}  "
                   + json.dumps(entry.detail, sort_keys=True))
