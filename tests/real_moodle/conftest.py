"""A real Moodle 4.5 + mod_attendance for this tier, started by the kit in `../shared/moodle`
(or $BB_MOODLE_KIT): skipped with the reason where the kit is absent, failed under CI=true.

Each test builds its own course (shortnames `BBR…`) with Moodle's APIs through the kit's
`php-run`; the site lives on between sessions, so a warm session costs seconds.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.moodle import MoodleConnector

from .kit import KIT, Site, start


def unavailable(reason: str) -> None:
    (pytest.fail if os.environ.get("CI") == "true" else pytest.skip)(reason)


@pytest.fixture(scope="session")
def real_moodle() -> dict[str, Any]:
    """{"url", "token", "base", …} of the kit's running Moodle."""
    if not (KIT / "start").exists():
        unavailable(f"no Moodle kit at {KIT} (set BB_MOODLE_KIT)")
    try:
        return start()
    except RuntimeError as error:
        unavailable(f"Moodle kit: {error}")
        raise


@pytest.fixture(scope="session")
def site(real_moodle: dict[str, Any]) -> Site:
    return Site(real_moodle)


@pytest.fixture
def course_name(request: pytest.FixtureRequest) -> Callable[[str], str]:
    """A stable shortname per test (a re-run rebuilds the same course)."""
    def name(suffix: str = "") -> str:
        return f"BBR{zlib.crc32(request.node.nodeid.encode()) % 10**7:07d}{suffix}"
    return name


@pytest.fixture
def hybrid(site: Site, course_name: Callable[[str], str]) -> Iterator[dict[str, Any]]:
    yield site.course(course_name())


RULE = """[badge]
id = "done-{course}"
name = {{ fr = "Parcours {course} terminé", en = "Pathway {course} completed" }}
description = {{ fr = "A terminé le parcours hybride.", en = "Completed the hybrid pathway." }}
criteria = {{ fr = "Cours {course} achevé dans Moodle.", en = "Course {course} completed in Moodle." }}

[condition]
course_completed = {{ source = "campus", course = "{course}" }}
"""


class Bridge:
    """badge-bridge on a SQLite store with one Moodle source (`campus`) and one badge: the
    course completed. With `present` (emails), a sign-in sheet source (`sheets`) whose
    presences are pushed to `campus` at `target`."""

    def __init__(self, tmp: Path, course: int, connector: MoodleConnector,
                 present: list[str] | None = None, target: str = "", smtp_port: int = 25) -> None:
        from bridge.config import BridgeSettings, Config, SmtpSettings
        from bridge.store import Store
        from connectors.csv import CsvConfig
        from connectors.push_route import PushRoute

        rules = tmp / "rules"
        rules.mkdir(parents=True, exist_ok=True)
        (rules / "done.toml").write_text(RULE.format(course=course), encoding="utf-8")
        self.course, self.connector = str(course), connector
        sources: dict[str, Any] = {"campus": connector.config}
        if present is not None:
            sheet = tmp / "sheets" / "meetup.csv"
            sheet.parent.mkdir()
            sheet.write_text("email;session;status\n" + "".join(f"{e};meetup-1;present\n" for e in present),
                             encoding="utf-8")
            sources["sheets"] = CsvConfig(path=sheet.parent, push=[PushRoute(
                to="campus", course=str(course), target=target)])
        self.config = Config(file=tmp / "bridge.toml", sources=sources,
                             bridge=BridgeSettings(data_dir=tmp, rules_dir=rules),
                             smtp=SmtpSettings(port=smtp_port))
        self.store = Store(f"sqlite:///{tmp / 'bridge.db'}")

    def sync(self, *, full: bool = False, steps: tuple[str, ...] = ("pull", "evaluate", "issue")) -> Any:
        from jobs.run import run_sync

        return run_sync(self.config, self.store, steps=steps, connectors={"campus": self.connector},
                        full=full)

    def calls(self) -> dict[str, int]:
        """Requests to Moodle so far, by function, then forgotten."""
        counts = dict(self.connector.http.by_endpoint)
        self.connector.http.by_endpoint.clear()
        return counts

    def awarded(self) -> set[int]:
        """Moodle user ids of the learners holding the badge."""
        holders = {listed.award.learner_id for listed in self.store.awards.listing()}
        return {int(i.external_id) for i in self.store.facts.identities_of("campus", holders).values()}

    def facts(self, kind: str, item: str = "") -> dict[int, float | None]:
        """Moodle user id -> value of the stored fact (kind, course, item)."""
        everyone = self.store.facts.learner_ids()
        ext = {lid: int(i.external_id) for lid, i in
               self.store.facts.identities_of("campus", everyone).items()}
        return {ext[lid]: f.value for lid, fs in self.store.facts.of_learners(ext).items() for f in fs
                if f.source == "campus" and f.kind == kind and f.course == self.course and f.item == item}


@pytest.fixture
def bridge(tmp_path: Path, site: Site) -> Iterator[Callable[..., Bridge]]:
    """bridge(course_id, token=…, clock=…, present=[emails], target=…, **source config) -> a
    Bridge on a fresh store, its emails sent to a local SMTP server."""
    from bridge.delivery.catcher import MailCatcher

    made: list[Bridge] = []
    catcher = MailCatcher(tmp_path / "mail").start()

    def make(course: int, token: str | None = None, clock: Callable[[], float] | None = None,
             present: list[str] | None = None, target: str = "", **config: Any) -> Bridge:
        config.setdefault("courses", [str(course)])
        b = Bridge(tmp_path / f"b{len(made)}", course,
                   site.connector(token=token, clock=clock, **config), present, target, catcher.port)
        made.append(b)
        return b
    yield make
    for b in made:
        b.store.close()
    catcher.stop()


@pytest.fixture(scope="session")
def completion_report(site: Site) -> int:
    """The custom report docs/connectors.md asks an administrator to make (made once a site)."""
    return int(site.op("report", name="badge-bridge completions")["reportid"])
