"""What an Open edX refusal means, told apart by status and body, as the error an operator can
act on: a fixable setup problem (with its fix from requirements.py) or a permanent refusal."""

from __future__ import annotations

from typing import Any

from bridge.errors import FixableSourceError, PermanentSourceError, SourceError
from connectors.openedx.requirements import NEEDS

__all__ = ["classify", "is_page_not_found"]


def is_page_not_found(exc: SourceError) -> bool:
    """A 404 without a JSON body: the LMS's own page for a URL nothing serves (a plugin that
    is not installed), as opposed to a view's JSON 404 about a course or a user."""
    return exc.status == 404 and getattr(exc, "body", None) is None


def classify(exc: PermanentSourceError, claims: dict[str, Any]) -> SourceError:
    """403 becomes a FixableSourceError saying which setup is missing; the rest is unchanged."""
    if exc.status != 403:
        return exc
    if claims.get("is_restricted"):
        need = NEEDS["unrestricted_application"]
        what = "the OAuth2 application is restricted"
    else:
        need = NEEDS["global_staff"]
        what = "the service user is not global staff" if claims.get("administrator") is False \
            else "refused: the service user must be global staff"
    return FixableSourceError(f"{what} ({exc.detail})", source=exc.source, endpoint=exc.endpoint,
                              status=exc.status, fix=need.fix)
