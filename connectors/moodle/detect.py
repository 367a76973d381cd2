"""How the connector learns whose completion may have changed when no signal moved: a custom
report listing completed participants (one call per page), and a rolling re-check.

A teacher's override, a completion computed by cron or a bulk completion moves neither
`lastcourseaccess`, grades nor attendance (seen on Moodle 4.5.0, docs/connectors.md).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from typing import NamedTuple

from bridge.errors import FixableSourceError
from connectors.moodle.client import MoodleClient
from connectors.moodle.payloads import ReportPage

__all__ = ["Mark", "report_completions", "due_for_recheck"]

PARTICIPANTS = "core_course\\reportbuilder\\datasource\\participants"
# Links Moodle 4.5 renders in the "Full name with link" and "Course full name with link" cells.
_USER = re.compile(r"/user/(?:profile|view)\.php\?id=(\d+)")
_COURSE = re.compile(r"/course/view\.php\?id=(\d+)")
_SETUP = ("a custom report on the 'Course participants' source with the columns 'Full name with "
          "link' and 'Course full name with link' and the condition 'Completed' = Yes, its audience "
          "holding the web-service user")


class Mark(NamedTuple):
    """What a learner's watermark remembers: their signal, when they were last read, whether
    that read missed a part Moodle refused (read again once it no longer does), and a digest
    of their roster row (`row`: an unchanged row with nothing to read is skipped whole).
    A tuple: one is parsed per learner and run."""

    signal: str
    read_at: int = 0
    partial: bool = False
    row: str = ""

    @classmethod
    def parse(cls, value: str | None) -> Mark | None:
        if value is None:
            return None
        parts = value.split("|")  # access|digest|read_at|partial|row, older marks shorter
        n = len(parts)
        read_at = parts[2] if n > 2 else ""
        return cls(f"{parts[0]}|{parts[1] if n > 1 else ''}",
                   int(read_at) if read_at.isdigit() else 0,  # older marks: never read
                   n > 3 and parts[3] == "partial", parts[4] if n > 4 else "")

    def dump(self) -> str:
        return f"{self.signal}|{self.read_at}" + ("|partial" if self.partial else "|" if self.row else "") \
            + (f"|{self.row}" if self.row else "")


def report_completions(client: MoodleClient, report_id: int, page_size: int) -> dict[str, set[int]]:
    """Course id -> ids of the participants the report lists as complete, page by page."""
    source = client.http.source_id

    def refuse(text: str, fix: str) -> FixableSourceError:
        return FixableSourceError(f"report {report_id} {text}", source=source, fix=fix,
                                  endpoint="core_reportbuilder_retrieve_report")

    out: dict[str, set[int]] = {}
    page = 0
    while True:
        body = client.call("core_reportbuilder_retrieve_report", ReportPage, reportid=report_id,
                           page=page, perpage=page_size)
        if body.details.source != PARTICIPANTS:
            raise refuse(f"reads {body.details.source!r}, not the participants of courses",
                         f"set sources.{source}.completion_report to {_SETUP}")
        conditions = json.loads(body.details.conditiondata or "{}")
        if conditions.get("completion:completed_operator") != 1:
            raise refuse("does not keep only completed participants",
                         "add the condition 'Completed' = Yes to the report")
        for row in body.data.rows:
            cells = " ".join(str(c) for c in row.columns)
            user, course = _USER.search(cells), _COURSE.search(cells)
            if user is None or course is None:
                raise refuse("has no user or course link in its rows", f"make it {_SETUP}")
            out.setdefault(course.group(1), set()).add(int(user.group(1)))
        page += 1
        if len(body.data.rows) < page_size or page * page_size >= body.data.totalrowcount:
            return out


def due_for_recheck(candidates: Iterable[tuple[int, Mark]], *, now: int, recheck: int,
                    elapsed: int) -> list[int]:
    """Learners to read again without a signal: every one last read `recheck` seconds ago or
    more, and at least the oldest-read share `elapsed / recheck` of them, so that the re-reads
    spread over the runs instead of coming all at once a day after the first sync."""
    ordered = sorted(candidates, key=lambda c: (c[1].read_at, c[0]))
    overdue = sum(1 for _, m in ordered if m.read_at <= now - recheck)
    share = math.ceil(len(ordered) * min(1.0, max(0, elapsed) / recheck))
    return [uid for uid, _ in ordered[:max(overdue, share)]]
