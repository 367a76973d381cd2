"""`badge-bridge init`: from a platform, a URL and a credential to a starter config and one
starter rule per chosen course, after probing what the credential may do.

The credential is read from the environment (the variable the config will name) or prompted
without echo; it is never written: the config holds `{ env = "NAME" }`. With `--yes` nothing
is asked: what is not given by a flag takes its default, and a missing secret is an error.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from bridge.errors import ConfigError, SourceError
from bridge.i18n import gettext as _
from bridge.model import CourseSeen

from .common import handle_errors
from .doctor import render

__all__ = ["init"]

def _kind_label(kind: str) -> str:
    return {"attendance": _("attendance session"), "manual": _("manual completion"),
            "staff_graded": _("staff-graded block")}.get(kind, kind)


def _ask(value: str | None, yes: bool, prompt: str, default: str | None = None) -> str:
    if value:
        return value
    if yes:
        if default is None:
            raise ConfigError(_("{what} is needed with --yes").format(what=prompt))
        return default
    return str(click.prompt(prompt, default=default))


def _list(courses: list[CourseSeen]) -> None:
    for c in courses:
        completion = {True: _("completion on"), False: _("completion off"), None: ""}[c.completion]
        click.echo(f"  {c.id}  {c.name}" + (f"  ({completion})" if completion else ""))
        for a in c.in_person:
            click.echo(f"      {a.target}  {a.name}  [{_kind_label(a.kind)}]")


@click.command()
@click.option("--kind", type=click.Choice(["moodle", "openedx", "fun", "csv"]),
              help="The platform kind.")
@click.option("--url", help="The platform's base URL.")
@click.option("--client-id", help="Open edX: the OAuth2 application's client id.")
@click.option("--secret-env", help="The environment variable holding the token, client secret "
              "or API key (default: BADGE_BRIDGE_MOODLE_TOKEN, …_OPENEDX_SECRET, …_FUN_API_KEY).")
@click.option("--course", "courses", multiple=True, help="A course to make a starter rule for "
              "(repeatable; default with --yes: every course listed).")
@click.option("--path", "sheets", help="CSV: the folder of sign-in sheets.")
@click.option("--source-id", default="campus", show_default=True, help="The source's id.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("bridge.toml"), show_default=True, help="The config file to write.")
@click.option("--smtp", default="127.0.0.1:25", show_default=True, metavar="HOST:PORT",
              help="The mail server of the starter config.")
@click.option("--force", is_flag=True, help="Replace existing files.")
@click.option("--yes", is_flag=True, help="Ask nothing (for scripts).")
@handle_errors
def init(kind: str | None, url: str | None, client_id: str | None, secret_env: str | None,
         courses: tuple[str, ...], sheets: str | None, source_id: str, output: Path, smtp: str,
         force: bool, yes: bool) -> None:
    """Write a starter config and rules for one platform, after probing what it grants."""
    from jobs.init import SECRET_ENV, discover, probe, source_table, write_starter

    kind = kind or ("moodle" if yes else click.prompt(
        _("Platform kind"), type=click.Choice(["moodle", "openedx", "fun", "csv"]), default="moodle"))
    if kind != "csv":
        url = _ask(url, yes, _("Platform URL"), "https://lms.fun-mooc.fr" if kind == "fun" else None)
    if kind == "openedx":
        client_id = _ask(client_id, yes, _("OAuth2 client id"))
    env = secret_env or SECRET_ENV.get(kind, "")
    secret = os.environ.get(env) if env else None
    prompted = False
    if env and not secret and kind != "fun":
        if yes:
            raise ConfigError(_("set {env} to the credential, or pass --secret-env").format(env=env))
        secret = click.prompt(_("Credential (read without echo; it stays out of the file)"),
                              hide_input=True)
        prompted = True
    table = source_table(kind, url=url or "", secret_env=env if secret else "",
                         client_id=client_id or "", courses=courses,
                         path=sheets or "" if kind == "csv" else "")
    seen: list[CourseSeen] = []
    try:
        seen = discover(kind, table, secret, source_id=source_id, only=courses) if kind in ("moodle", "openedx") \
            else []
    except SourceError:
        findings = probe(kind, table, secret, source_id=source_id)
        for line in render(findings):
            click.echo(line)
        sys.exit(1)
    if seen:
        click.echo(_("Courses this credential sees, and activities that look like in-person "
                     "sessions:"))
        _list(seen)
    chosen = list(courses)
    if not chosen and seen:
        everything = ",".join(c.id for c in seen)
        chosen = [c.strip() for c in _ask(None, yes, _("Courses to make a badge for (ids, comma-"
                                                       "separated)"), everything).split(",")
                  if c.strip()]
    if not chosen and kind in ("openedx", "fun"):
        raise ConfigError(_("give the course keys with --course"))
    unknown = [c for c in chosen if seen and c not in {s.id for s in seen}]
    if unknown:
        raise ConfigError(_("not among the courses this credential sees: {courses}").format(
            courses=", ".join(unknown)))
    by_id = {c.id: c for c in seen}
    picked = [by_id.get(c) or CourseSeen(c, c) for c in chosen]
    table = source_table(kind, url=url or "", secret_env=env if secret or kind != "fun" else "",
                         client_id=client_id or "", courses=chosen,
                         path=sheets or "" if kind == "csv" else "")
    findings = probe(kind, table, secret, source_id=source_id)
    for line in render(findings):
        click.echo(line)
    host, _sep, port = smtp.rpartition(":")
    written = write_starter(output, source_id, table, picked, smtp_host=host or "127.0.0.1",
                            smtp_port=int(port or 25), force=force)
    for path in written:
        click.echo(_("wrote {path}").format(path=path))
    if env and (prompted or not os.environ.get(env)):
        click.echo(_("Set {env} in the environment of the commands below: the file only names it.")
                   .format(env=env))
    click.echo(_("Next:"))
    for command in (f"badge-bridge doctor --config {output}",
                    f"badge-bridge sync --config {output} --dry-run",
                    f"badge-bridge daemon --config {output} --serve"):
        click.echo(f"  {command}")
