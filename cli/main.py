"""The `badge-bridge` command line. Each command is a few lines calling the library.

Errors become one clear line on stderr and a meaningful exit code (see bridge.errors).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bridge import i18n
from bridge.config import Config
from bridge.errors import NotFound
from bridge.i18n import gettext as _
from bridge.i18n import ngettext

from .common import config_option, handle_errors, lang_option, load, speak_environment_language

if TYPE_CHECKING:
    from bridge.store import Award, Store

__all__ = ["main"]

COMMANDS = "badge_bridge.commands"


class Commands(click.Group):
    """The built-in commands plus those other packages register under the
    `badge_bridge.commands` entry point (the sandbox, a third party's), loaded when named."""

    def _plugins(self) -> dict[str, Any]:
        from importlib.metadata import entry_points

        return {ep.name: ep for ep in entry_points(group=COMMANDS)}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self._plugins()))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in (plugins := self._plugins()):
            loaded = plugins[cmd_name].load()
            command = loaded if isinstance(loaded, click.Command) else None
        return command


def _port_free(host: str, port: int) -> bool:
    import socket

    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _award(config_path: Path | None, award_id: str) -> tuple[Config, Store, Award]:
    """The config, the store and one award of it; a clear error if there is no such award."""
    from bridge.store import Store

    config = load(config_path)
    store = Store(config.bridge.db_url, keys_dir=config.bridge.keys_path)
    award = store.awards.get(award_id)
    if award is None:
        raise NotFound(_("no award {award_id}").format(award_id=award_id))
    return config, store, award


@click.group(cls=Commands)
@click.option("-v", "--verbose", count=True,
              help="Log each event to stderr (-vv: debug, and the libraries' own lines).")
@click.option("--log-json", is_flag=True, help="Log lines as JSON (the default when stderr is "
              "not a terminal).")
@lang_option
@click.version_option(package_name="badge-bridge")
@click.pass_context
def main(ctx: click.Context, verbose: int, log_json: bool) -> None:
    """badge-bridge: learning-platform activity and presence → verifiable Open Badges."""
    from bridge import logs

    speak_environment_language(ctx)
    logs.setup(verbose, as_json=True if log_json else None)


@main.command()
@click.option("--port", default=8000, show_default=True, help="Port of the web app (127.0.0.1).")
@click.option("--once", is_flag=True, help="Exit after the run instead of serving.")
@click.option("--output", type=click.Path(file_okay=False, path_type=Path),
              help="Write badges/*.png, mail/*.eml and demo.toml here.")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path(".badge-bridge-demo"), show_default=True, help="The demo's state.")
@click.option("--learners", default=40, show_default=True, help="Learners in the sandbox course.")
@click.option("--seed", default=7, show_default=True, help="Seed of the sandbox data.")
@handle_errors
def demo(port: int, once: bool, output: Path | None, data_dir: Path, learners: int, seed: int) -> None:
    """Run the whole pipeline once on the built-in sandbox platform, then serve the badges."""
    from .demo import run_demo

    if not once and not _port_free("127.0.0.1", port):
        raise click.ClickException(_("port {port} on 127.0.0.1 is in use; pass --port with a free one")
                                   .format(port=port))

    result = run_demo(data_dir, port=port, output=output, learners=learners, seed=seed)
    rows: list[tuple[str, object]] = [(_("learners"), result.learners), (_("awards issued this run"), result.new_awards),
            (_("awards in total"), result.total_awards), (_("emails sent this run"), result.emails_sent),
            (_("presences pushed back (in total)"), result.pushes),
            (_("source errors"), len(result.report.errors))]
    if result.verify_url:
        rows.append((_("verification page"), result.verify_url))
    email, outcome = result.checked_in
    said = {"checked_in": _("checked in"), "already": _("already checked in")}.get(outcome, outcome)
    rows += [(_("meetup: organiser's page"), result.organiser_url),
             (_("meetup: scripted check-in"), f"{email} — {said}")]
    width = max(len(r[0]) for r in rows)
    for label, value in rows:
        click.echo(f"{label:<{width}}  {i18n.format_decimal(value) if isinstance(value, int) else value}")
    if result.new_awards == 0 and result.emails_sent == 0:
        click.echo(_("nothing new: every award was already issued and sent (same data dir)"))
    if once:
        return
    from bridge.store import Store
    from bridge.web.server import serve

    click.echo(_("serving on {url} — Ctrl-C to stop").format(url=f"http://127.0.0.1:{port}/"))
    serve(result.config, Store(result.config.bridge.db_url, keys_dir=result.config.bridge.keys_path), "127.0.0.1", port)


@main.command()
@config_option
@click.option("--source", "sources", multiple=True, help="Only this source (repeatable).")
@click.option("--once", is_flag=True, help="One run, then exit (the default for this command).")
@click.option("--dry-run", is_flag=True, help="Show the awards a run would make; write nothing.")
@click.option("--full", is_flag=True, help="Read every learner again, whatever the platforms' "
              "signals say (after a change the platform does not signal).")
@click.option("--json", "as_json", is_flag=True, help="Print the run report as JSON.")
@handle_errors
def sync(config_path: Path | None, sources: tuple[str, ...], once: bool, dry_run: bool,
         full: bool, as_json: bool) -> None:
    """One sync run against the sources in the config."""
    from bridge.store import Store
    from jobs.run import load_ruleset, run_sync

    from .progress import terminal_progress
    from .runs import sync_summary

    config = load(config_path, secrets=True)
    ruleset = load_ruleset(config)
    if dry_run:
        from jobs.dryrun import dry_run as run_dry

        with terminal_progress(not as_json) as progress:
            found = run_dry(config, ruleset, sources=list(sources) or None, full=full,
                            progress=progress)
        out = found.as_dict()
        click.echo(json.dumps(out, indent=2, default=str) if as_json else "\n".join(
            [_("would award  {email}  {badge}").format(**a) for a in out["would_award"]]
            + [_("would no longer grant  {email}  {badge_id}  (award {award_id})").format(**r)
               for r in out["no_longer_granted"]]
            + [_("error: {problem}").format(problem=e) for e in found.errors])
            or _("nothing would change"))
        return
    store = Store(config.bridge.db_url, keys_dir=config.bridge.keys_path)
    with terminal_progress(not as_json) as progress:
        report = run_sync(config, store, ruleset=ruleset, sources=list(sources) or None, full=full,
                          progress=progress)
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2, default=str))
    else:
        for line, to_err in sync_summary(report):
            click.echo(line, err=to_err)
    if report.exit_code():
        sys.exit(report.exit_code())


@main.command()
@config_option
@click.option("--host", default=None, help="Interface (default: [web] host).")
@click.option("--port", default=None, type=int, help="Port (default: [web] port).")
@click.option("--workers", default=None, type=click.IntRange(1, 64),
              help="Processes serving the app (default: [web] workers).")
@handle_errors
def serve(config_path: Path | None, host: str | None, port: int | None, workers: int | None) -> None:
    """Serve the web app: hosted badges, verification pages, health, metrics."""
    from bridge.store import Store
    from bridge.web.server import serve as run_server
    from jobs.meetups import refresh_sessions

    from .admin import console_setup

    config = load(config_path)
    store = Store(config.bridge.db_url, keys_dir=config.bridge.keys_path)
    refresh_sessions(config, store)  # the config's meetup sessions are open before any run
    workers = workers or config.web.workers
    if workers > 1:  # each process reads the same file (cli.web.app)
        os.environ["BADGE_BRIDGE_CONFIG"] = str(Path(config.file).resolve())
    run_server(config, store, host or config.web.host, port or config.web.port,
               console=console_setup(config, store), workers=workers, factory="cli.web:app")


@main.command()
@config_option
@click.option("--every", default=300, show_default=True, type=click.IntRange(min=10),
              help="Seconds between the starts of two runs.")
@click.option("--serve/--no-serve", default=False, help="Also serve the web app.")
@click.option("--max-runs", type=int, default=None, hidden=True)
@click.option("--enqueue", "broker", default=None, metavar="BROKER_URL",
              help="Enqueue each run for `badge-bridge worker`s instead of running it here.")
@handle_errors
def daemon(config_path: Path | None, every: int, serve: bool, max_runs: int | None,
           broker: str | None) -> None:
    """Sync on a schedule until stopped (SIGTERM or Ctrl-C); never two runs at once."""
    from bridge.store import Store
    from jobs.run import load_ruleset
    from jobs.scheduler import run_daemon

    config = load(config_path, secrets=True)
    load_ruleset(config)  # refuse to start on broken rules
    runs = run_daemon(config, Store(config.bridge.db_url, keys_dir=config.bridge.keys_path), every, serve=serve, max_runs=max_runs,
                      broker=broker)
    click.echo(ngettext("stopped after {runs} run", "stopped after {runs} runs", runs).format(runs=runs))


@main.command()
@click.option("--broker", envvar="BADGE_BRIDGE_BROKER_URL", default="redis://127.0.0.1:6379/0",
              show_default=True, help="Celery broker (redis://… or amqp://…).")
@click.option("--concurrency", default=2, show_default=True, help="Worker processes.")
@click.option("--queue", default="celery", show_default=True, help="Queue to consume.")
@click.option("--hostname", default=None, help="Worker name (default: Celery's).")
@handle_errors
def worker(broker: str, concurrency: int, queue: str, hostname: str | None) -> None:
    """Run a Celery worker for the sync and delivery tasks (several machines, one PostgreSQL)."""
    from jobs.tasks import configure

    argv = ["worker", f"--concurrency={concurrency}", f"--queues={queue}", "--loglevel=WARNING"]
    if hostname:
        argv.append(f"--hostname={hostname}")
    configure(broker).worker_main(argv)


@main.group()
def awards() -> None:
    """List, show and revoke awards."""


@awards.command("list")
@config_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option("--badge", default=None, help="Only this badge.")
@handle_errors
def awards_list(config_path: Path | None, as_json: bool, badge: str | None) -> None:
    """One line (or JSON object) per award: id, learner email, badge, issued at, status
    (valid, expired, revoked), and its email's delivery (sent, queued, failed, cancelled, none)."""
    from bridge.store import Store

    config = load(config_path)
    store = Store(config.bridge.db_url, keys_dir=config.bridge.keys_path)
    listed = store.awards.listing(badge_id=badge)
    delivery = store.outbox.delivery_states([a.award.id for a in listed])
    for one in listed:
        row = {**one.summary(), "delivery": delivery.get(one.award.id, "none")}
        click.echo(json.dumps(row) if as_json else
                   f"{row['id']}  {row['email']}  {row['badge']}  {row['issued_at']}  {row['status']}"
                   f"  {row['delivery']}")


@awards.command("revoke")
@config_option
@click.argument("award_id")
@click.option("--reason", required=True, help="Shown on the verification page and the revocation list.")
@handle_errors
def awards_revoke(config_path: Path | None, award_id: str, reason: str) -> None:
    """Revoke an award."""
    store = _award(config_path, award_id)[1]
    click.echo(_("revoked") if store.awards.revoke(award_id, reason) else _("already revoked"))


@awards.command("show")
@config_option
@click.argument("award_id")
@handle_errors
def awards_show(config_path: Path | None, award_id: str) -> None:
    """An award as JSON: learner, badge, dates, provenance, and what happened to its emails
    (the award, its revocation, its renewal notice)."""
    from bridge.issuing.urls import Urls

    config, store, award = _award(config_path, award_id)
    doc = {k: v for k, v in award.as_dict().items() if k not in ("salt", "status_slot")}
    doc["validity"] = award.validity()
    doc["verification_page"] = Urls(config.bridge.public_url).verify_page(award_id)
    doc["deliveries"] = [{"channel": i.channel, "kind": i.kind, "status": i.status,
                          "attempts": i.attempts, "last_error": i.last_error, "sent_at": i.sent_at}
                         for i in store.outbox.items(award_id=award_id)]
    click.echo(json.dumps(doc, indent=2, default=str))


@awards.command("resend")
@config_option
@click.argument("award_id")
@handle_errors
def awards_resend(config_path: Path | None, award_id: str) -> None:
    """Send an award's email again now (after a bounce was fixed, or on the learner's request)."""
    from jobs.deliver import deliver_emails

    config, store, award = _award(config_path, award_id)
    if award.status == "revoked":
        raise click.ClickException(_("award {award_id} is revoked; nothing to send")
                                   .format(award_id=award_id))
    store.outbox.reset(f"email:{award_id}")
    counts = deliver_emails(config, store)
    click.echo(_("sent {sent}, to retry {retry}, failed {failed}").format(**counts.as_dict()))
    if counts.sent == 0:
        sys.exit(5)


@main.group()
def learners() -> None:
    """Learners' personal data."""


@learners.command("erase")
@config_option
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@handle_errors
def learners_erase(config_path: Path | None, email: str, yes: bool) -> None:
    """Erase a learner on request (GDPR art. 17): facts and identities deleted, awards revoked
    and stripped of name and email, and the platforms' next syncs will not bring them back."""
    from bridge.store import Store
    from jobs.console import erase_learner

    config = load(config_path)
    store = Store(config.bridge.db_url, keys_dir=config.bridge.keys_path)
    if not yes:
        click.confirm(_("Erase {email} and revoke all their badges? This cannot be undone").format(
            email=email), abort=True)
    erased = erase_learner(config, store, email)
    if erased is None:
        raise NotFound(_("no learner with email {email}").format(email=email))
    facts, idents, cancelled, revoked, rows = (erased.facts, erased.identities,
                                               erased.deliveries_cancelled, erased.awards_revoked,
                                               erased.report_rows)
    click.echo(_("erased: {counts}").format(counts=", ".join([
        ngettext("{count} fact", "{count} facts", facts).format(count=facts),
        ngettext("{count} identity", "{count} identities", idents).format(count=idents),
        ngettext("{count} delivery cancelled", "{count} deliveries cancelled", cancelled).format(
            count=cancelled),
        ngettext("{count} award revoked", "{count} awards revoked", revoked).format(count=revoked),
        ngettext("{count} report row", "{count} report rows", rows).format(count=rows)])))


@main.group("config")
def config_group() -> None:
    """Check a config file."""


@config_group.command("check")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path), required=False)
@handle_errors
def config_check(file: Path | None) -> None:
    """Validate FILE (default: $BADGE_BRIDGE_CONFIG) and what it refers to (push targets,
    rules and their courses), print every problem at once, else a summary without secrets."""
    from bridge.config import load_config
    from bridge.redact import mask_url
    from connectors.registry import REGISTRY
    from jobs.checks import cross_check

    config = load_config(file, REGISTRY, secrets=True)  # the push routes: with the rest, below
    cross_check(config)
    click.echo(_("{file}: ok").format(file=config.file))
    click.echo(f"  public_url  {mask_url(config.bridge.public_url)}")
    click.echo(f"  database    {mask_url(config.bridge.db_url)}")
    click.echo(f"  rules_dir   {config.bridge.rules_dir}")
    for sid, src in config.sources.items():
        click.echo("  " + (_("source {source}: kind {kind}") if src.enabled else
                           _("source {source}: kind {kind} (disabled)")).format(source=sid, kind=src.kind))


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@config_option
@handle_errors
def db_upgrade(config_path: Path | None) -> None:
    """Apply the migrations (idempotent)."""
    from bridge.store import Store

    config = load(config_path)
    store = Store(config.bridge.db_url, keys_dir=config.bridge.keys_path)
    click.echo(_("schema at revision {revision}").format(revision=store.revision()))


def _register_builtin() -> None:
    """Command groups that live in their own module of this package."""
    from .admin import admin
    from .doctor import doctor
    from .init import init
    from .keys import keys
    from .meetups import meetups
    from .presence import presence
    from .pushes import pushes
    from .reports import reports
    from .rules import rules
    from .runs import runs

    for group in (rules, keys, presence, pushes, reports, meetups, runs, doctor, init, admin):
        main.add_command(group)


_register_builtin()
