"""Reading the Course Blocks API: the course's structure as staff sees it (every block, staff-
only ones included) and one learner's tree with their completion of each leaf."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from connectors.openedx.payloads import Block, Blocks

__all__ = ["CourseBlocks", "usage_type", "usage_course"]

_USAGE = re.compile(r"^block-v1:(?P<course>[^+]+\+[^+]+\+[^+]+)\+type@(?P<type>[\w-]+)\+block@[\w.-]+$")
ENDPOINT = "courses/v1/blocks"


def usage_type(usage: str) -> str | None:
    """The block type written in a usage key (block-v1:…+type@html+block@x → html)."""
    m = _USAGE.match(usage)
    return m["type"] if m else None


def usage_course(usage: str) -> str | None:
    """The course key a usage key belongs to (block-v1:O+N+R+… → course-v1:O+N+R)."""
    m = _USAGE.match(usage)
    return f"course-v1:{m['course']}" if m else None


class CourseBlocks:
    """The two reads the connector needs, with the structure cached per course for its life."""

    def __init__(self, base_url: str, get: Callable[[str, Any, str], Any]) -> None:
        self.base_url, self._get = base_url, get
        self._structure: dict[str, dict[str, Block]] = {}
        self._lock = threading.Lock()

    def structure(self, course: str) -> dict[str, Block]:
        """Every block of the course with its type and children (`all_blocks`, staff only)."""
        with self._lock:
            if course not in self._structure:
                url = f"{self.base_url}/api/courses/v1/blocks/?" + urlencode({
                    "course_id": course, "all_blocks": "true", "depth": "all",
                    "requested_fields": "children,graded"})
                self._structure[course] = dict(self._get(url, Blocks, ENDPOINT).blocks)
            return self._structure[course]

    def learner(self, course: str, user: str) -> dict[str, Block]:
        """The course as this learner sees it (hidden blocks absent), with their completion:
        a number on leaves, None on course, chapter, sequential and vertical blocks."""
        url = f"{self.base_url}/api/courses/v1/blocks/?" + urlencode({
            "course_id": course, "username": user, "depth": "all",
            "requested_fields": "completion"})
        return dict(self._get(url, Blocks, ENDPOINT).blocks)

