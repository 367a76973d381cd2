"""RDFC-1.0 canonical N-Quads of the JSON-LD documents badge-bridge signs, fast.

Turning JSON-LD into RDF means processing its contexts (the OB 3.0 one is large, with scoped
contexts per type): with pyld that is ~90 % of a canonicalisation. But every credential of one
*shape* (same keys, same arrays' lengths, same types) expands the same way; only its string
values differ. So a shape is expanded once, with a sentinel in place of each string, into an
N-Quads template; a document of that shape is then the template with its values put back,
escaped as N-Quads wants, and pyoxigraph (Rust) canonicalises those N-Quads.

The first document of each shape is also converted the slow way and the two results compared:
a shape whose expansion depends on a value (a term used as a value, say) is never templated.
pyoxigraph escapes literals as RDFC-1.0 says (`\\b`, `\\f`, `\\u0001`…), as the verifiers'
rdf-canonize does; pyld's own serialiser does not, so pyld is used only to expand.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyoxigraph as ox
from pyld import jsonld

__all__ = ["Canonicalizer"]

# Keys whose values decide the expansion itself (types, contexts, @vocab-typed terms): they are
# part of the shape, never replaced by a sentinel.
_STRUCTURAL = frozenset({"@context", "type", "@type", "proofPurpose", "@language", "@direction"})
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_SENTINEL = re.compile(r"urn:x-bbs:(\d+)x|bbs(\d+)q")
_TERM = re.compile(r'<[^>]*>|"(?:[^"\\]|\\.)*"')
_IRI_FORBIDDEN = re.compile(r'[\x00-\x20<>"{}|^`\\]')
_ESCAPES = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r", '"': '\\"',
            "\\": "\\\\"}
_TO_ESCAPE = re.compile(r'[\x00-\x1f\x7f"\\]')


def _escape_literal(value: str) -> str:
    return _TO_ESCAPE.sub(lambda m: _ESCAPES.get(m.group(), f"\\u{ord(m.group()):04X}"), value)


def _skeleton(node: Any, values: list[str], key: str = "") -> Any:
    """`node` with each non-structural string replaced by a sentinel; the strings in `values`."""
    if isinstance(node, dict):
        return {k: (v if k in _STRUCTURAL else _skeleton(v, values, k)) for k, v in node.items()}
    if isinstance(node, list):
        return [_skeleton(v, values, key) for v in node]
    if isinstance(node, str):
        values.append(node)
        i = len(values) - 1
        # IRIs stay IRIs (an @id-typed term keeps them as they are); other strings stay plain.
        return f"urn:x-bbs:{i}x" if _SCHEME.match(node) else f"bbs{i}q"
    return node


@dataclass(frozen=True)
class _Template:
    """The N-Quads of a shape, cut at each sentinel: (text, None) or (None, (index, in_iri))."""

    parts: tuple[tuple[str | None, tuple[int, bool] | None], ...]

    def fill(self, values: list[str]) -> str | None:
        out: list[str] = []
        for text, slot in self.parts:
            if slot is None:
                out.append(text or "")
                continue
            index, in_iri = slot
            value = values[index]
            if in_iri:
                if _IRI_FORBIDDEN.search(value):
                    return None  # not an IRI the template can carry: the slow path decides
                out.append(value)
            else:
                out.append(_escape_literal(value))
        return "".join(out)


def _cut(nquads: str) -> _Template:
    parts: list[tuple[str | None, tuple[int, bool] | None]] = []
    pos = 0
    for term in _TERM.finditer(nquads):
        in_iri = term.group().startswith("<")
        for sentinel in _SENTINEL.finditer(term.group()):
            start = term.start() + sentinel.start()
            parts.append((nquads[pos:start], None))
            parts.append((None, (int(sentinel.group(1) or sentinel.group(2)), in_iri)))
            pos = term.start() + sentinel.end()
    parts.append((nquads[pos:], None))
    return _Template(tuple(parts))


def _canonical(nquads: str) -> str:
    dataset = ox.Dataset(ox.parse(nquads, format=ox.RdfFormat.N_QUADS))
    dataset.canonicalize(ox.CanonicalizationAlgorithm.RDFC_1_0)
    lines = (ox.serialize(dataset, format=ox.RdfFormat.N_QUADS) or b"").decode("utf-8").splitlines()
    return "".join(line + "\n" for line in sorted(lines))


class Canonicalizer:
    """RDFC-1.0 N-Quads of JSON-LD documents whose contexts `loader` serves (no network)."""

    def __init__(self, loader: Callable[..., dict[str, Any]], max_shapes: int = 512) -> None:
        self._options = {"format": "application/n-quads", "documentLoader": loader}
        self._templates: dict[str, _Template | None] = {}
        self._max_shapes = max_shapes
        self._lock = threading.Lock()

    def _to_rdf(self, doc: Any) -> str:
        return str(jsonld.to_rdf(doc, dict(self._options)))

    def canonicalize(self, doc: dict[str, Any]) -> str:
        values: list[str] = []
        skeleton = _skeleton(doc, values)
        shape = json.dumps(skeleton, sort_keys=True, ensure_ascii=False)
        try:
            template = self._templates[shape]
        except KeyError:  # a shape not seen yet (or the table was just emptied by another thread)
            return self._first(shape, skeleton, doc, values)
        filled = template.fill(values) if template is not None else None
        return _canonical(filled if filled is not None else self._to_rdf(doc))

    def _first(self, shape: str, skeleton: Any, doc: dict[str, Any], values: list[str]) -> str:
        """The slow path, which also decides whether this shape can be templated."""
        exact = _canonical(self._to_rdf(doc))
        template: _Template | None = _cut(self._to_rdf(skeleton))
        filled = template.fill(values) if template is not None else None
        if filled is None or _canonical(filled) != exact:
            template = None
        with self._lock:
            if len(self._templates) >= self._max_shapes:
                self._templates.clear()
            self._templates[shape] = template
        return exact
