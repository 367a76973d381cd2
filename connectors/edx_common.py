"""What the `openedx` and `fun` connectors share: Open edX course keys in both spellings, the
API key header, validated JSON reads and the bounded pool of per-learner calls."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError

from bridge.errors import PayloadError, SourceError
from connectors.http import HttpClient

__all__ = ["API_KEY_HEADER", "check_course_keys", "get_json", "per_learner"]

API_KEY_HEADER = "X-Edx-Api-Key"
# opaque_keys: course-v1:ORG+NUMBER+RUN, or the ORG/NUMBER/RUN of courses created before it
# (Dogwood-era FUN courses among them).
_COURSE_KEY = re.compile(r"^(course-v1:[^+/\s]+\+[^+/\s]+\+[^+/\s]+|[^/+\s:]+/[^/+\s]+/[^/+\s]+)$")

T = TypeVar("T")


def check_course_keys(keys: list[str]) -> list[str]:
    """The keys unchanged, or ValueError naming those that are not course keys."""
    bad = [k for k in keys if not _COURSE_KEY.match(k)]
    if bad:
        raise ValueError(f"not an Open edX course key (course-v1:ORG+NUMBER+RUN or "
                         f"ORG/NUMBER/RUN): {', '.join(bad)}")
    return keys


def get_json(http: HttpClient, url: str, model: Any, endpoint: str, **kwargs: Any) -> Any:
    """GET and validate into `model`; a body that does not fit is a PayloadError (retried)
    naming the field."""
    adapter: TypeAdapter[Any] = TypeAdapter(model)

    def validate(payload: Any) -> Any:
        try:
            return adapter.validate_python(payload)
        except ValidationError as exc:
            err = exc.errors(include_url=False, include_input=False)[0]
            raise PayloadError(err["msg"], source=http.source_id, endpoint=endpoint,
                               field=".".join(str(p) for p in err["loc"]) or "(body)") from None

    return http.request_json("GET", url, endpoint=endpoint, validate=validate, **kwargs)


def per_learner(parallel: int, read: Callable[[str], T],
                users: Sequence[str]) -> dict[str, T | SourceError]:
    """`read(user)` for each user, at most `parallel` at once; a SourceError is kept as the
    user's result so that one learner's failure does not lose the others."""
    def one(user: str) -> T | SourceError:
        try:
            return read(user)
        except SourceError as exc:
            return exc

    with ThreadPoolExecutor(max(1, parallel)) as pool:
        return dict(zip(users, pool.map(one, users), strict=True))
