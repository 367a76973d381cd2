"""Moodle's REST dialect on top of the shared HTTP client: form encoding, and Moodle's
refusals turned into errors that say what is missing and how to fix it (see `needs`).

Moodle answers errors with HTTP 200 and a body holding `exception`, `errorcode` and `message`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import ijson  # type: ignore[import-untyped]
import requests
from pydantic import TypeAdapter, ValidationError

from bridge.errors import FixableSourceError, PermanentSourceError, SourceError
from connectors.http import HttpClient, PayloadError
from connectors.moodle import needs

__all__ = ["MoodleClient", "MoodleError", "InvalidToken", "NotInService", "FunctionAbsent",
           "MissingCapability", "InvalidParameter", "NotFound", "NotEnrolled", "NoCriteria",
           "RowError", "Checked", "encode_params", "feed", "events_of"]

T = TypeVar("T")
# A body longer than this is parsed as it arrives (a 10k-learner grade report is ~20 MB).
STREAM_AFTER = 1 << 16


@functools.lru_cache(maxsize=64)
def _adapter(model: Any) -> TypeAdapter[Any]:
    """One validator per payload type, built once per process (building one costs more than
    validating a page with it)."""
    return TypeAdapter(model)


class RowError(ValueError):
    """A row of a streamed list is not what Moodle sends (`field`: where)."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Checked(Generic[T]):
    """A payload checked by a function rather than a model (MoodleClient.call's `model`): for a
    hot path, where building a model per row costs more than the checks. `check` returns what
    the caller gets, and raises RowError (or a model's ValidationError) for a payload of
    another shape; either is a PayloadError naming the field, retried like a model's."""

    check: Callable[[Any], T]


def feed(function: str, source: str, key: str, parse: Any, sink: Callable[[Any], None],
         rows: Iterable[Any]) -> None:
    """Each row checked by `parse` (a payload model, or a function raising RowError) and
    handed to `sink`; a bad row is a PayloadError naming it (MoodleClient.each's loop, also
    what a stand-in client feeds recorded rows through)."""
    check = _adapter(parse).validate_python if isinstance(parse, type) else parse
    prefix = [key] if key else []
    n = 0
    try:
        for n, row in enumerate(rows):  # noqa: B007 - n names the faulty row
            sink(check(row))
    except ValidationError as exc:
        err = exc.errors(include_url=False, include_input=False)[0]
        raise PayloadError(err["msg"], source=source, endpoint=function,
                           field=".".join([*prefix, str(n), *map(str, err["loc"])])) from None
    except RowError as exc:
        raise PayloadError(str(exc), source=source, endpoint=function,
                           field=".".join([*prefix, str(n), exc.field])) from None


def events_of(value: Any, prefix: str = "") -> Iterator[tuple[str, str, Any]]:
    """ijson's (prefix, event, value) events of a value already parsed (a small body)."""
    if isinstance(value, dict):
        yield prefix, "start_map", None
        for key, item in value.items():
            yield prefix, "map_key", key
            yield from events_of(item, f"{prefix}.{key}" if prefix else str(key))
        yield prefix, "end_map", None
    elif isinstance(value, list):
        yield prefix, "start_array", None
        for item in value:
            yield from events_of(item, f"{prefix}.item" if prefix else "item")
        yield prefix, "end_array", None
    else:
        kind = ("null" if value is None else "boolean" if isinstance(value, bool)
                else "string" if isinstance(value, str) else "number")
        yield prefix, kind, value


class _Body:
    """A streamed body as a file for ijson: the first chunk, already read, then the rest."""

    def __init__(self, first: bytes, rest: Iterator[bytes]) -> None:
        self.first, self.rest = first, rest

    def read(self, size: int = -1) -> bytes:
        if size == 0:  # ijson asks for nothing first, to tell bytes from text
            return b""
        if self.first:
            out, self.first = self.first, b""
            return out
        return next(self.rest, b"")


class MoodleError(SourceError):
    """Moodle refused the call; `code` is Moodle's errorcode. A refusal of no known kind is
    kept and retried (it may be transient)."""


class InvalidToken(MoodleError, FixableSourceError):
    """The token is unknown, expired or restricted to another address."""


class NotInService(MoodleError, FixableSourceError):
    """The function exists but is not in the token's external service."""


class FunctionAbsent(MoodleError, FixableSourceError):
    """The site does not know the function: its plugin is not installed (or Moodle is older)."""


class MissingCapability(MoodleError, FixableSourceError):
    """The token user's role lacks a capability; `capabilities` names the candidates."""

    def __init__(self, message: str, *, capabilities: tuple[str, ...] = (),
                 whole_course: bool = False, **where: Any) -> None:
        super().__init__(message, **where)
        self.capabilities, self.whole_course = capabilities, whole_course


class InvalidParameter(MoodleError, PermanentSourceError):
    """Moodle rejected a parameter (a bug on our side or a version difference)."""


class NotFound(MoodleError, PermanentSourceError):
    """The course, activity or session does not exist on this site."""


class NotEnrolled(MoodleError, PermanentSourceError):
    """The learner is not (or no longer) a tracked, enrolled, active user of the course."""


class NoCriteria(MoodleError, PermanentSourceError):
    """The course has no completion criteria."""


_KINDS: dict[str, type[MoodleError]] = {
    "token": InvalidToken, "service": NotInService, "learner": NotEnrolled, "missing": NotFound,
    "criteria": NoCriteria, "parameter": InvalidParameter}


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
    """Calls `wsfunction`s; returns validated payloads or raises a meaningful SourceError.
    `user` (the token user's username, once known) goes into the fixes it prints."""

    def __init__(self, http: HttpClient, url: str, token: str) -> None:
        self.http, self.token = http, token
        self.endpoint_url = url.rstrip("/") + "/webservice/rest/server.php"
        self.user = ""

    def call(self, function: str, model: type[T] | Any = None, **params: Any) -> Any:
        """A read: retried on transient failures."""
        return self._call(function, model, None, params)

    def send(self, function: str, **params: Any) -> Any:
        """A write: sent once; the caller reads Moodle back before any new attempt."""
        return self._call(function, None, 0, params)

    def _call(self, function: str, model: Any, retries: int | None, params: dict[str, Any]) -> Any:
        data = {"wstoken": self.token, "wsfunction": function, "moodlewsrestformat": "json",
                **encode_params(params)}
        check = (None if model is None else model.check if isinstance(model, Checked)
                 else _adapter(model).validate_python)

        def validate(payload: Any) -> Any:
            if isinstance(payload, dict) and "exception" in payload and "errorcode" in payload:
                raise self.error(function, payload)
            if check is None:
                return payload
            try:
                return check(payload)
            except RowError as exc:
                raise PayloadError(str(exc), source=self.http.source_id, endpoint=function,
                                   field=exc.field or "(body)") from None
            except ValidationError as exc:
                err = exc.errors(include_url=False, include_input=False)[0]
                field = ".".join(str(p) for p in err["loc"]) or "(body)"
                raise PayloadError(err["msg"], source=self.http.source_id, endpoint=function,
                                   field=field) from None

        return self.http.request_json("POST", self.endpoint_url, endpoint=function, data=data,
                                      validate=validate, retries=retries)

    def each(self, function: str, key: str, parse: type[T] | Callable[[Any], T],
             add: Callable[[], Callable[[T], None]], **params: Any) -> None:
        """A read whose answer is a large list under `key` (e.g. the grade report's
        `usergrades`; "": the answer is the list): each row is validated and handed to the callable `add()` returned, as
        the body arrives, so the body is never held whole. A retried request calls `add()`
        again: the caller starts its accumulation afresh there. `parse` is a payload model, or
        a function checking a row that raises RowError (cheaper than a model for a hot path)."""
        data = {"wstoken": self.token, "wsfunction": function, "moodlewsrestformat": "json",
                **encode_params(params)}
        source = self.http.source_id

        def bad(message: str, field: str = "(body)") -> PayloadError:
            return PayloadError(message, source=source, endpoint=function, field=field)

        def consume(resp: requests.Response) -> None:
            sink = add()
            chunks = resp.iter_content(STREAM_AFTER)
            first = b""
            for chunk in chunks:  # a read may bring less than asked
                first += chunk
                if len(first) >= STREAM_AFTER:
                    break
            if len(first) < STREAM_AFTER:  # the whole body: an error, or a small list
                try:
                    payload = json.loads(first)
                except ValueError:
                    raise bad("response is not valid JSON (truncated?)") from None
                if isinstance(payload, dict) and "exception" in payload and "errorcode" in payload:
                    raise self.error(function, payload)
                rows = payload if not key else payload.get(key) if isinstance(payload, dict) else None
                if not isinstance(rows, list):
                    raise bad(f"expected a list under {key!r}" if key else "expected a list", key)
            else:
                rows = ijson.items(_Body(first, chunks), f"{key}.item" if key else "item",
                                   use_float=True)
            try:
                feed(function, source, key, parse, sink, rows)
            except ijson.JSONError:
                raise bad("response is not valid JSON (truncated?)") from None

        self.http.request_json("POST", self.endpoint_url, endpoint=function, data=data,
                               consume=consume)

    def events(self, function: str, add: Callable[[], Callable[[Iterator[tuple[str, str, Any]]], None]],
               **params: Any) -> None:
        """A read whose rows are themselves too large to build (an attendance session lists
        every enrolled user): the callable `add()` returns is given ijson's (prefix, event,
        value) events of the body as it arrives. A Moodle error body is raised as `each`
        raises it; a retried request calls `add()` again."""
        data = {"wstoken": self.token, "wsfunction": function, "moodlewsrestformat": "json",
                **encode_params(params)}
        source = self.http.source_id

        def consume(resp: requests.Response) -> None:
            sink = add()
            chunks = resp.iter_content(STREAM_AFTER)
            first = b""
            for chunk in chunks:
                first += chunk
                if len(first) >= STREAM_AFTER:
                    break
            if len(first) < STREAM_AFTER:  # the whole body: perhaps an error
                try:
                    payload = json.loads(first)
                except ValueError:
                    raise PayloadError("response is not valid JSON (truncated?)", source=source,
                                       endpoint=function, field="(body)") from None
                if isinstance(payload, dict) and "exception" in payload and "errorcode" in payload:
                    raise self.error(function, payload)
                sink(events_of(payload))  # as `each` reads a small body: json's numbers
                return
            try:
                sink(ijson.parse(_Body(first, chunks), use_float=True))
            except ijson.JSONError:
                raise PayloadError("response is not valid JSON (truncated?)", source=source,
                                   endpoint=function, field="(body)") from None

        self.http.request_json("POST", self.endpoint_url, endpoint=function, data=data,
                               consume=consume)

    def error(self, function: str, body: Mapping[str, Any]) -> MoodleError:
        """Moodle's error body as the error an administrator can act on."""
        code, message = str(body.get("errorcode", "")), str(body.get("message", ""))

        def make(cls: type[MoodleError], text: str, fix: str | None = None) -> MoodleError:
            return cls(text, source=self.http.source_id, endpoint=function, code=code, fix=fix)

        refused = needs.refusal(function, code)
        if refused is not None:
            fix = needs.grant(refused.capabilities, self.user)
            return MissingCapability(f"{refused.means} (Moodle: {message})",
                                     capabilities=refused.capabilities,
                                     whole_course=refused.whole_course, source=self.http.source_id,
                                     endpoint=function, code=code,
                                     fix=f"{fix}, {refused.hint}" if refused.hint else fix)
        if code == "invalidrecord" and "external_functions" in message:
            plugin = needs.FUNCTIONS[function].plugin if function in needs.FUNCTIONS else ""
            return make(FunctionAbsent, "the site does not know this function",
                        f"install {plugin} on the site" if plugin else
                        "upgrade Moodle or turn off the feature that needs it")
        kind, meaning = needs.GENERIC.get(code, ("", ""))
        cls = _KINDS.get(kind, MoodleError)
        if cls is MoodleError and "not enrolled" in message.lower():
            cls = NotEnrolled
        text = f"{meaning} (Moodle: {message})" if meaning else message or code
        if cls is InvalidToken:
            return make(cls, text, f"make a new token for the web-service user ({needs.TOKENS}) "
                        f"and set it as sources.{self.http.source_id}.token")
        if cls is NotInService:
            return make(cls, text, f"add {function} to the token's external service "
                        f"({needs.SERVICES} › Functions)")
        return make(cls, text)
