"""Helpers for connector tests: recorded payloads, a Moodle stub served with `responses`, a store."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
import responses

from bridge.errors import SourceError
from bridge.model import Batch, FactKind, Identity
from bridge.store import Store

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MOODLE_URL = "https://moodle.example.org"


def fixture(name: str) -> Any:
    """A recorded payload, e.g. fixture('moodle/core_webservice_get_site_info')."""
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


class FakeState:
    """The SourceState a connector sees, kept in memory; `errors` collects what it reports."""

    def __init__(self, full: bool = False) -> None:
        self.full = full
        self.courses: list[str] | None = None
        self.marks: dict[tuple[str, str], str] = {}
        self.complete: dict[tuple[str, str], set[str]] = {}
        self.errors: list[SourceError] = []
        self.warnings: list[SourceError] = []
        self.known: dict[str, Identity] = {}

    def keep(self, batch: Batch) -> None:
        """Remember what the store would: watermarks and identities."""
        self.marks.update({(w.course, w.stream): w.value for w in batch.watermarks})
        self.known.update({i.external_id: i for i in batch.identities})

    def watermark(self, course: str, stream: str) -> str | None:
        return self.marks.get((course, stream))

    def watermarks(self, course: str, prefix: str) -> dict[str, str]:
        return {s: v for (c, s), v in self.marks.items() if c == course and s.startswith(prefix)}

    def holding(self, course: str, kind: FactKind, item: str = "") -> set[str]:
        return self.complete.get((course, kind.value), set())

    def known_identities(self) -> dict[str, Identity]:
        return self.known

    def identities_of(self, external_ids: Any) -> dict[str, Identity]:
        return {e: self.known[e] for e in external_ids if e in self.known}

    def report(self, error: SourceError) -> None:
        self.errors.append(error)

    def warn(self, warning: SourceError) -> None:
        self.warnings.append(warning)


@pytest.fixture
def moodle_stub() -> Iterator[Callable[[dict[str, Callable[[dict[str, str]], Any]]], list[str]]]:
    """Serve wsfunctions from a {function: params -> payload} table; returns the calls made."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        def install(table: dict[str, Callable[[dict[str, str]], Any]]) -> list[str]:
            calls: list[str] = []

            def handle(request: Any) -> tuple[int, dict[str, str], str]:
                params = dict(parse_qsl(request.body))
                fn = params["wsfunction"]
                calls.append(fn)
                return 200, {}, json.dumps(table[fn](params))

            rsps.add_callback(responses.POST, f"{MOODLE_URL}/webservice/rest/server.php", callback=handle)
            return calls
        yield install


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'bridge.db'}")
    yield s
    s.close()
