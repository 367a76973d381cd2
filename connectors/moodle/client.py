"""Moodle's REST dialect on top of the shared HTTP client: form encoding, error mapping.

Moodle answers errors with HTTP 200 and a body holding `exception` and `errorcode`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError

from bridge.errors import PermanentSourceError
from connectors.http import HttpClient, PayloadError

__all__ = ["MoodleClient", "MoodleError", "InvalidToken", "MissingCapability", "InvalidParameter",
           "NotFound", "NotEnrolled", "NoCriteria", "encode_params"]

T = TypeVar("T")

# errorcode -> what it means for an administrator. The same missing permission yields
# different codes depending on the function (observed on Moodle 4.5).
_MEANING = {
    "invalidtoken": "the token is not valid (expired, deleted or mistyped)",
    "accessexception": "the function is not enabled in the token's web service",
    "servicerequireslogin": "the web service requires a login the token user lacks",
    "invalidparameter": "Moodle rejected a parameter",
    "invalidrecord": "the course (or function) does not exist on this site",
    "nopermissions": "the token user lacks a capability",
    "requireloginerror": "the token user cannot enter this course (missing capability or not enrolled)",
    "errorcoursecontextnotvalid": "the token user cannot access this course (missing capability)",
    "cannotviewreport": "the token user cannot view completion reports (report/completion:view)",
    "completionnotenabled": "completion tracking is not enabled for this course",
    "invalidcoursemodule": "the activity (cmid) does not exist on this site",
    "invalidextparam": "Moodle rejected an option name",
    "nocriteriaset": "the course has no completion criteria",
    "usernotenroled": "the user is not enrolled (or not tracked) in this course",
}


class MoodleError(PermanentSourceError):
    """Moodle refused the call; `code` is Moodle's errorcode."""


class InvalidToken(MoodleError):
    """The token is unknown, expired or restricted to another address."""


class MissingCapability(MoodleError):
    """The function is not in the token's service, or its user lacks a capability."""


class InvalidParameter(MoodleError):
    """Moodle rejected a parameter (a bug on our side or a version difference)."""


class NotFound(MoodleError):
    """The course, activity, session or function does not exist on this site."""


class NotEnrolled(MoodleError):
    """The user is not (or no longer) a tracked, enrolled user of the course."""


class NoCriteria(MoodleError):
    """The course has no completion criteria."""


def encode_params(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """PHP bracket encoding: {'options': [{'name': 'a', 'value': 1}]} -> options[0][name]=a…"""
    out: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if isinstance(value, Mapping):
            out.update(encode_params(value, name))
        elif isinstance(value, (list, tuple)):
            out.update(encode_params({str(i): v for i, v in enumerate(value)}, name))
        elif isinstance(value, bool):
            out[name] = "1" if value else "0"
        else:
            out[name] = str(value)
    return out


class MoodleClient:
    """Calls `wsfunction`s; returns validated payloads or raises a meaningful SourceError."""

    def __init__(self, http: HttpClient, url: str, token: str) -> None:
        self.http, self.token = http, token
        self.endpoint_url = url.rstrip("/") + "/webservice/rest/server.php"

    def call(self, function: str, model: type[T] | Any = None, **params: Any) -> Any:
        """A read: retried on transient failures."""
        return self._call(function, model, None, params)

    def send(self, function: str, **params: Any) -> Any:
        """A write: sent once; the caller reads Moodle back before any new attempt."""
        return self._call(function, None, 0, params)

    def _call(self, function: str, model: Any, retries: int | None, params: dict[str, Any]) -> Any:
        data = {"wstoken": self.token, "wsfunction": function, "moodlewsrestformat": "json",
                **encode_params(params)}
        adapter = TypeAdapter(model) if model is not None else None

        def validate(payload: Any) -> Any:
            if isinstance(payload, dict) and "exception" in payload and "errorcode" in payload:
                raise self._error(function, payload)
            if adapter is None:
                return payload
            try:
                return adapter.validate_python(payload)
            except ValidationError as exc:
                err = exc.errors(include_url=False, include_input=False)[0]
                field = ".".join(str(p) for p in err["loc"]) or "(body)"
                raise PayloadError(err["msg"], source=self.http.source_id, endpoint=function,
                                   field=field) from None

        return self.http.request_json("POST", self.endpoint_url, endpoint=function, data=data,
                                      validate=validate, retries=retries)

    def _error(self, function: str, body: dict[str, Any]) -> MoodleError:
        code = str(body.get("errorcode", ""))
        message = str(body.get("message", ""))
        cls = _CLASSES.get(code, MoodleError)
        if cls is MoodleError and "not enrolled" in message.lower():
            cls = NotEnrolled
        meaning = _MEANING.get(code)
        text = f"{meaning}: {message}" if meaning else message or code
        return cls(text, source=self.http.source_id, endpoint=function, code=code)


_CLASSES: dict[str, type[MoodleError]] = {
    "invalidtoken": InvalidToken,
    **dict.fromkeys(("accessexception", "servicerequireslogin", "nopermissions", "requireloginerror",
                     "errorcoursecontextnotvalid", "cannotviewreport"), MissingCapability),
    **dict.fromkeys(("invalidparameter", "invalidextparam"), InvalidParameter),
    **dict.fromkeys(("invalidrecord", "invalidcoursemodule", "invalidcourseid"), NotFound),
    **dict.fromkeys(("usernotenroled", "notenroled"), NotEnrolled),
    "nocriteriaset": NoCriteria,
}
