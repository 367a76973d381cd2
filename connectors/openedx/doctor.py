"""What `badge-bridge doctor` asks an Open edX LMS, each a request that changes nothing: the
client credentials give a token, the application is not restricted, the service user is global
staff, each course key exists, the completion switch is on (a completion-batch POST with an
empty `blocks` object: the switch is checked before anything and nothing is written), the
aggregator is installed, each presence block is a completable leaf a learner cannot complete by
viewing it, and the API key is accepted.

Each behaviour is read in the server code named in `requirements.py` (and pinned by the
sandbox's tests: tests/sandbox/test_sandbox_openedx.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import requests

from bridge.errors import PermanentSourceError, SourceError
from bridge.i18n import gettext as _
from bridge.model import CourseSeen, Finding, FindingStatus, InPerson, Probe
from connectors.edx_common import API_KEY_HEADER
from connectors.openedx.blocks import usage_type
from connectors.openedx.payloads import CourseDetail, CourseList
from connectors.openedx.refusals import is_page_not_found
from connectors.openedx.requirements import BLOCKS_COMPLETED_ON_VIEW

if TYPE_CHECKING:
    from connectors.openedx.connector import OpenEdxConnector

__all__ = ["OpenEdxProbes", "discover", "STAFF_GRADED", "SCORED"]

OK, FAIL, WARN = FindingStatus.ok, FindingStatus.fail, FindingStatus.warn
STAFF_GRADED = "staffgradedxblock"
# Blocks with a score or their own completion: viewing them completes nothing
# (completion/services.py can_mark_block_complete_on_view).
SCORED = frozenset({"problem", STAFF_GRADED, "openassessment", "drag-and-drop-v2", "video"})
BATCH = "/api/completion/v1/completion-batch"


class OpenEdxProbes:
    """The probes of one Open edX source, sharing the token and its claims."""

    def __init__(self, connector: OpenEdxConnector, pushed: Sequence[tuple[str, str]] = ()) -> None:
        self.conn, self.config, self.sid = connector, connector.config, connector.source_id
        self.pushed = list(pushed)
        self.claims: dict[str, Any] | None = None
        self.staff = False

    def probes(self) -> list[Probe]:
        return [Probe("token", self.token), Probe("staff", self.global_staff),
                Probe("courses", self.courses), Probe("switch", self.switch),
                Probe("aggregator", self.aggregator), Probe("blocks", self.blocks),
                Probe("api_key", self.api_key)]

    def _f(self, status: FindingStatus, subject: str, detail: str = "", fix: str = "",
           feature: str = "") -> Finding:
        return Finding(status, subject, detail, fix, feature, self.sid)

    @property
    def username(self) -> str:
        return str((self.claims or {}).get("preferred_username") or "")

    def token(self) -> Iterator[Finding]:
        subject = _("client credentials")
        try:
            self.conn.auth(True)
        except SourceError as exc:
            yield self._f(FAIL, subject, exc.detail, _(
                "in Django admin › Django OAuth Toolkit › Applications, add an application of "
                "client type confidential and grant type client credentials for the service user, "
                "and set its id and secret as sources.{source}.client_id and client_secret").format(
                source=self.sid), _("every call"))
            return
        self.claims = self.conn.auth.claims
        yield self._f(OK, subject, _("a token for {user}").format(user=self.username or "?"))
        if self.claims.get("is_restricted"):
            yield self._f(FAIL, _("OAuth2 application"), _("restricted: it reads no learner data"),
                          _("in Django admin › OAuth2 › Restricted applications, remove the "
                            "application (keep it confidential, client credentials)"),
                          _("every call"))
        else:
            yield self._f(OK, _("OAuth2 application"), _("not restricted"))

    def global_staff(self) -> Iterator[Finding]:
        if self.claims is None:
            return
        subject = _("global staff")
        try:
            roles = self.conn.get(f"{self.config.url}/api/enrollment/v1/roles/", dict[str, Any],
                                  "enrollment/v1/roles")
        except SourceError as exc:
            yield self._f(FAIL, subject, exc.detail, exc.fix or "", _("every call"))
            return
        self.staff = bool(roles.get("is_staff"))
        if self.staff:
            yield self._f(OK, subject, _("{user} is global staff").format(user=self.username or "?"))
        else:
            yield self._f(FAIL, subject, _("{user} is not global staff (course staff is not enough)")
                          .format(user=self.username or "?"),
                          _("in Django admin › Users, open {user} and tick “Staff status”").format(
                              user=self.username or _("the service user")),
                          _("enrollments, grades and completion of every learner"))

    def courses(self) -> Iterator[Finding]:
        if self.claims is None:
            return
        for course in self.config.courses:
            subject = _("course {course}").format(course=course)
            url = f"{self.config.url}/api/courses/v1/courses/{quote(course, safe='')}/"
            try:
                detail = self.conn.get(url, CourseDetail, "courses/v1/courses")
            except PermanentSourceError as exc:
                if exc.status == 404:
                    yield self._f(FAIL, subject, _("not on this LMS"),
                                  _("check the course key in sources.{source}.courses").format(
                                      source=self.sid))
                else:
                    yield self._f(FAIL, subject, exc.detail, exc.fix or "")
                continue
            except SourceError as exc:
                yield self._f(FAIL, subject, exc.detail, exc.fix or "")
                continue
            yield self._f(OK, subject, detail.name or _("exists"))

    def switch(self) -> Iterator[Finding]:
        """The waffle switch, seen by an empty completion-batch: checked first, writes nothing."""
        if self.claims is None or not self.config.courses:
            return
        subject = _("waffle switch completion.enable_completion_tracking")
        needed = any(t.startswith("block:") for _c, t in self.pushed)
        try:
            self.conn.http.request_json(
                "POST", f"{self.config.url}{BATCH}", endpoint="completion/v1/completion-batch",
                retries=0, json={"username": self.username, "course_key": self.config.courses[0],
                                 "blocks": {}})
        except PermanentSourceError as exc:
            if exc.status == 400 and "submit_batch_completion" in exc.detail:
                yield self._f(FAIL if needed else WARN, subject, _("off: no completion is recorded"),
                              _("./manage.py lms waffle_switch --create "
                                "completion.enable_completion_tracking on (or Django admin › "
                                "Waffle › Switches)"), _("pushing presence"))
                return
            if exc.status in (401, 403):
                return  # said by the staff and application probes
        except SourceError:
            return
        yield self._f(OK, subject, _("on"))

    def aggregator(self) -> Iterator[Finding]:
        if self.claims is None or not self.config.completion or not self.config.courses:
            return
        subject = _("plugin openedx-completion-aggregator")
        course = quote(self.config.courses[0], safe="")
        url = f"{self.config.url}/completion-aggregator/v1/course/{course}/?page_size=1"
        try:
            self.conn.get(url, dict[str, Any], "completion-aggregator/v1/course")
        except PermanentSourceError as exc:
            if is_page_not_found(exc):
                yield self._f(WARN, subject, _("not installed: no course completion from this "
                                               "source"),
                              _("pip install openedx-completion-aggregator in the LMS and run its "
                                "run_aggregator_service cron, or set sources.{source}.completion "
                                "= false").format(source=self.sid), _("course completion"))
            return
        except SourceError:
            return
        yield self._f(OK, subject, _("installed"))

    def blocks(self) -> Iterator[Finding]:
        """Each presence block: in the course, a completable leaf, not completed on view (read
        as staff: not when the staff or application probe already failed)."""
        if self.claims is None or self.claims.get("is_restricted") or not self.staff:
            return
        for course, target in self.pushed:
            usage = target.partition(":")[2]
            subject = _("push target {target}").format(target=target)
            try:
                block = self.conn.blocks.structure(course).get(usage)
            except SourceError as exc:
                yield self._f(FAIL, subject, exc.detail, exc.fix or "", _("pushing presence"))
                continue
            kind = block.type if block else usage_type(usage) or ""
            if block is None:
                yield self._f(FAIL, subject, _("no such block in course {course}").format(
                    course=course), _("push to a block of the course (its usage key, in Studio)"),
                    _("pushing presence"))
            elif block.children:
                yield self._f(FAIL, subject, _("a {kind} holds other blocks: it is not a "
                                               "completable leaf").format(kind=kind),
                              _("push to a staff-graded block inside it"), _("pushing presence"))
            elif kind in BLOCKS_COMPLETED_ON_VIEW:
                yield self._f(FAIL, subject, _("a {kind} block is completed by the learner viewing it")
                              .format(kind=kind), _("push to a block the learner cannot complete "
                                                    "themselves, e.g. a staff-graded one"),
                              _("pushing presence"))
            elif kind in SCORED or block.graded:
                yield self._f(OK, subject, _("“{name}”, a {kind} block").format(
                    name=block.display_name, kind=kind))
            else:
                yield self._f(WARN, subject, _("a {kind} block: whether viewing it completes it "
                                               "depends on the block").format(kind=kind),
                              _("prefer a staff-graded block (staffgradedxblock)"),
                              _("pushing presence"))

    def api_key(self) -> Iterator[Finding]:
        """The key alone, on the single-enrollment view (the one view it authenticates)."""
        if self.claims is None or self.config.api_key is None or not self.config.courses:
            return
        subject = _("API key")
        user = self.username or "badge-bridge"
        url = (f"{self.config.url}/api/enrollment/v1/enrollment/{quote(user, safe='')},"
               f"{quote(self.config.courses[0], safe='')}")
        try:
            resp = self.conn.http.session.get(url, timeout=self.config.timeout, headers={
                API_KEY_HEADER: self.config.api_key.get_secret_value()})
        except requests.RequestException as exc:
            yield self._f(FAIL, subject, type(exc).__name__)
            return
        if resp.status_code in (401, 403):
            yield self._f(FAIL, subject, _("refused by the LMS (HTTP {status})").format(
                status=resp.status_code), _("set sources.{source}.api_key to the LMS's EDX_API_KEY, "
                                            "or remove it").format(source=self.sid),
                _("an unthrottled enrollment list"))
        else:
            yield self._f(OK, subject, _("accepted"))


def discover(connector: OpenEdxConnector, only: Sequence[str] = (),
             limit: int = 50) -> list[CourseSeen]:
    """The courses of the LMS's catalogue (at most `limit`, or those of `only`) and their
    staff-graded blocks, where a presence goes (one structure read per course)."""
    url = f"{connector.config.url}/api/courses/v1/courses/?page_size={limit}"
    page = connector.get(url, CourseList, "courses/v1/courses")
    out = []
    for course in [c for c in page.results if not only or c.id in only][:limit]:
        try:
            structure = connector.blocks.structure(course.id)
        except SourceError:
            structure = {}
        out.append(CourseSeen(course.id, course.name, None, [
            InPerson(f"block:{usage}", b.display_name, "staff_graded")
            for usage, b in structure.items() if b.type == STAFF_GRADED]))
    return out
