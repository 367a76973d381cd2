"""`badge-bridge meetups …`: create, list and show meetup sessions, issue an organiser link,
close a session, link a check-in's address to a platform learner.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import click
from pydantic import ValidationError

from bridge.config import Config
from bridge.errors import ConfigError, NotFound
from bridge.i18n import gettext as _

from .common import config_option, handle_errors, load

if TYPE_CHECKING:
    from bridge.meetups.desk import Desk
    from bridge.store import CheckIn, MeetupSession, Store

__all__ = ["meetups"]

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def _open(config_path: Path | None) -> tuple[Config, Store, Desk]:
    """The config, the store with the config's sessions brought up to date, and the desk."""
    from bridge.meetups.desk import Desk
    from bridge.store import Store
    from jobs.meetups import refresh_sessions

    config = load(config_path)
    store = Store(config.bridge.db_url, keys_dir=config.bridge.keys_path)
    refresh_sessions(config, store)
    return config, store, Desk(config, store)


def _session(store: Store, session_id: str) -> MeetupSession:
    session = store.meetups.get(session_id)
    if session is None:
        raise NotFound(_("no meetup session {id}").format(id=session_id))
    return session


def _doc(desk: Desk, session: MeetupSession, *, link: bool = True) -> dict[str, Any]:
    zone = ZoneInfo(session.timezone)
    doc: dict[str, Any] = {
        "id": session.id, "title": session.title, "place": session.place, "town": session.town,
        "start": session.starts_at.astimezone(zone).isoformat(),
        "end": session.ends_at.astimezone(zone).isoformat(), "timezone": session.timezone,
        "source": session.source, "course": session.course, "tags": session.tags,
        "confirm": session.confirm, "organiser_email": session.organiser_email,
        "push_to": session.push_to, "push_target": session.push_target, "origin": session.origin,
        "closed_at": session.closed_at.isoformat() if session.closed_at else None,
    }
    if link:
        doc["organiser_url"] = desk.organiser_url(session)
    return doc


def _attendee(checkin: CheckIn, zone: ZoneInfo) -> dict[str, Any]:
    return {"id": checkin.id, "email": checkin.email, "method": checkin.method,
            "status": checkin.status, "matched": checkin.matched,
            "at": checkin.created_at.astimezone(zone).isoformat()}


@click.group()
def meetups() -> None:
    """Meetup sessions: check-in by QR code, the organiser's page, presence as evidence."""


@meetups.command("create")
@config_option
@click.option("--title", required=True, help="What the session is called.")
@click.option("--place", required=True, help="The place's name.")
@click.option("--town", default="", help="The place's town.")
@click.option("--start", required=True, help="ISO 8601 (2026-11-14T14:00+01:00); without an "
              "offset, in [bridge] timezone.")
@click.option("--end", required=True, help="ISO 8601, like --start.")
@click.option("--source", "source_id", help="The meetups source (default: the only one).")
@click.option("--course", required=True, help="The course the presence counts for.")
@click.option("--tag", "tags", multiple=True, help="A tag rules may filter on (repeatable).")
@click.option("--organiser-email", help="Who runs the session.")
@click.option("--confirm", type=click.Choice(["none", "email"]), default="none", show_default=True,
              help="email: a check-in waits for a click on a link sent to the address.")
@click.option("--push-to", help="Source receiving this session's presences (with --push-target).")
@click.option("--push-target", help="completion:<cmid> | attendance:<sessionid> | block:<usage key>.")
@json_option
@handle_errors
def create(config_path: Path | None, title: str, place: str, town: str, start: str, end: str,
           source_id: str | None, course: str, tags: tuple[str, ...], organiser_email: str | None,
           confirm: str, push_to: str | None, push_target: str | None, as_json: bool) -> None:
    """Create a session; prints its id and the organiser's link."""
    from bridge.meetups.sessions import from_spec, meetups_sources, new_id
    from bridge.meetups.settings import SessionSpec
    from jobs.meetups import check_target

    config, store, desk = _open(config_path)
    sources = meetups_sources(config)
    if source_id is None and len(sources) != 1:
        raise ConfigError(_("pass --source: the config has {count} meetups sources").format(
            count=len(sources)), key="sources")
    source_id = source_id or next(iter(sources))
    if source_id not in sources:
        raise ConfigError(_("{source} is not a meetups source").format(source=source_id),
                          key=f"sources.{source_id}")
    starts = _moment(start, "--start")
    try:
        spec = SessionSpec(id=new_id(starts), title=title, place=place, town=town, start=starts,
                           end=_moment(end, "--end"), course=course, tags=list(tags),
                           confirm=confirm, organiser_email=organiser_email, push_to=push_to,
                           push_target=push_target)  # type: ignore[arg-type]
    except ValidationError as exc:
        err = exc.errors(include_url=False, include_input=False)[0]
        raise click.BadParameter(err["msg"], param_hint="--" + str(err["loc"][0]).replace("_", "-")) from None
    problem = spec.check(config.bridge.zone) or check_target(config, push_to, push_target, course)
    if problem:
        raise click.UsageError(problem)
    session = store.meetups.create(from_spec(spec, source_id, config.bridge.zone, "cli"))
    doc = _doc(desk, session)
    emailed = _email_link(config, store, session)
    if as_json:
        click.echo(json.dumps({**doc, "organiser_emailed": emailed}, indent=2, ensure_ascii=False))
    else:
        click.echo(_("session {id} created").format(id=session.id))
        click.echo(_("organiser's page: {url}").format(url=doc["organiser_url"]))
        _say_emailed(session, emailed)


def _email_link(config: Config, store: Store, session: MeetupSession) -> bool | None:
    """The organiser's link to the session's organiser: True sent, False left to the next run
    (the mail server did not take it), None without an organiser's address."""
    from bridge.meetups.mail import deliver_meetup_mails, queue_organiser_link

    if not queue_organiser_link(store, config, session):
        return None
    return deliver_meetup_mails(config, store).sent > 0


def _say_emailed(session: MeetupSession, emailed: bool | None) -> None:
    if emailed is not None:
        click.echo((_("link emailed to {email}") if emailed else
                    _("link not emailed to {email} yet: the mail server did not take it; the next "
                      "run sends it")).format(email=session.organiser_email))


def _moment(text: str, option: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(_("{text} is not an ISO 8601 date and time (for example "
                                   "{example})").format(text=repr(text), example="2026-11-14T14:00+01:00"),
                                 param_hint=option) from None


@meetups.command("list")
@config_option
@click.option("--source", "source_id", help="Only this meetups source.")
@json_option
@handle_errors
def list_(config_path: Path | None, source_id: str | None, as_json: bool) -> None:
    """One line (or JSON object) per session, latest first."""
    store, desk = _open(config_path)[1:]
    for session in store.meetups.sessions(source_id):
        count = len([c for c in store.meetups.checkins(session.id) if c.status == "present"])
        if as_json:
            click.echo(json.dumps({**_doc(desk, session, link=False), "present": count},
                                  ensure_ascii=False))
        else:
            doc = _doc(desk, session, link=False)
            closed = _("closed") if session.closed_at else ""
            click.echo(f"{session.id}  {doc['start']}  {session.title}  {session.where}  "
                       + _("{count} present").format(count=count) + (f"  {closed}" if closed else ""))


@meetups.command("show")
@config_option
@click.argument("session_id")
@json_option
@handle_errors
def show(config_path: Path | None, session_id: str, as_json: bool) -> None:
    """A session and its attendees, with how and when each checked in."""
    store, desk = _open(config_path)[1:]
    session = _session(store, session_id)
    zone = ZoneInfo(session.timezone)
    people = [_attendee(c, zone) for c in store.meetups.checkins(session.id)]
    doc = {**_doc(desk, session, link=False), "attendees": people}
    if as_json:
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
        return
    click.echo(f"{session.id}  {session.title}  {session.where}  {doc['start']} → {doc['end']}")
    methods = {"qr": _("QR code"), "organiser": _("added by the organiser"), "sheet": _("sign-in sheet")}
    for p in people:
        notes = [methods[p["method"]]]
        if p["status"] == "pending":
            notes.append(_("waiting for email confirmation"))
        if not p["matched"]:
            notes.append(_("address unknown to the platform"))
        click.echo(f"  {p['id']:>5}  {p['at']}  {p['email']}  {' · '.join(notes)}")


@meetups.command("link")
@config_option
@click.argument("session_id")
@json_option
@handle_errors
def link(config_path: Path | None, session_id: str, as_json: bool) -> None:
    """Issue a new organiser link (emailed to the session's organiser, if any); the previous
    one stops working."""
    config, store, desk = _open(config_path)
    _session(store, session_id)
    store.meetups.new_link(session_id)
    session = _session(store, session_id)
    url = desk.organiser_url(session)
    emailed = _email_link(config, store, session)
    if as_json:
        click.echo(json.dumps({"id": session_id, "organiser_url": url, "organiser_emailed": emailed}))
    else:
        click.echo(url)
        _say_emailed(session, emailed)


@meetups.command("close")
@config_option
@click.argument("session_id")
@handle_errors
def close(config_path: Path | None, session_id: str) -> None:
    """Close a session: no more check-ins."""
    store = _open(config_path)[1]
    _session(store, session_id)
    click.echo(_("closed") if store.meetups.close(session_id) else _("already closed"))


@meetups.command("match")
@config_option
@click.argument("checkin_id", type=int)
@click.argument("email")
@handle_errors
def match(config_path: Path | None, checkin_id: int, email: str) -> None:
    """Link a check-in's address to the platform learner known by EMAIL (an address the
    platform did not know): their presences count for that learner from the next run."""
    store = _open(config_path)[1]
    click.echo(_("linked") if store.meetups.link_address(checkin_id, email) else _("already linked"))
