"""Many rows into one table through the driver's own bulk path, in the caller's transaction.

SQLAlchemy's executemany of dicts converts every parameter of every row on its own (0.1 ms
an award of three rows here); these rows are tuples, each column's value converted by the
same SQLAlchemy bind processor (once per distinct date), then:

- SQLite: `cursor.executemany` of one prepared INSERT (sqlite3 steps it once per row in C);
- PostgreSQL (psycopg 3): `COPY … FROM STDIN`, the rows streamed in one round trip.

Constraints, defaults of the database and foreign keys apply as for any INSERT: a duplicate
raises sqlalchemy's IntegrityError, as `conn.execute(insert(table), rows)` would.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import JSON, Connection, DateTime, Table
from sqlalchemy.exc import DBAPIError

__all__ = ["insert_rows"]

_Processor = Callable[[Any], Any] | None


def _processors(conn: Connection, table: Table, columns: Sequence[str]) -> list[_Processor]:
    """Each column's bind processor for this dialect; a date's is memoised (a batch's rows
    mostly share the same few instants, and SQLite's formats each by hand)."""
    out: list[_Processor] = []
    copying = _copies(conn)
    for name in columns:
        column_type = table.c[name].type
        proc: _Processor = column_type._cached_bind_processor(conn.dialect)
        if copying and isinstance(column_type, JSON):
            # COPY takes a document as its text; psycopg's Json wrapper would serialise it at
            # each row, memoised or not (the serializer is the engine's, as SQLAlchemy's own)
            proc = _memoised_documents(getattr(conn.dialect, "_json_serializer", None) or json.dumps)
        elif proc is not None and isinstance(column_type, DateTime):
            proc = _memoised(proc)
        elif proc is not None and isinstance(column_type, JSON):
            proc = _memoised_documents(proc)
        out.append(proc)
    return out


def _memoised_documents(proc: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A JSON column's processor, memoised for flat documents of text (the facts' attributes:
    a course's and an activity's names, repeated across learners). Only `str` keys and values
    are memoised: equal numbers of different types (1, 1.0, True) serialise differently."""
    by_items = _memoised(lambda items: proc(dict(items)))  # a miss rebuilds the same dict

    def process(value: Any) -> Any:
        if type(value) is not dict:
            return proc(value)
        items = tuple(value.items())
        for k, v in items:
            if type(k) is not str or type(v) is not str:
                return proc(value)
        return by_items(items)
    return process


def _memoised(proc: Callable[[Any], Any]) -> Callable[[Any], Any]:
    seen: dict[Any, Any] = {}

    def process(value: Any) -> Any:
        try:
            return seen[value]
        except KeyError:
            seen[value] = out = proc(value)
            return out
    return process


def insert_rows(conn: Connection, table: Table, columns: Sequence[str],
                rows: Iterable[Sequence[Any]]) -> None:
    """INSERT these rows (tuples of `columns`' Python values) into `table`."""
    procs = _processors(conn, table, columns)
    converting = [(i, p) for i, p in enumerate(procs) if p is not None]
    if converting:
        converted = []
        for row in rows:
            values = list(row)
            for i, proc in converting:
                values[i] = proc(values[i])
            converted.append(values)
        rows = converted
    else:
        rows = list(rows)
    if not rows:
        return
    quote = conn.dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in columns)
    target = conn.dialect.identifier_preparer.format_table(table)
    if _copies(conn):
        _copy(conn, f"COPY {target} ({names}) FROM STDIN", rows)
        return
    marks = ", ".join("?" if conn.dialect.paramstyle == "qmark" else "%s" for _ in columns)
    conn.exec_driver_sql(f"INSERT INTO {target} ({names}) VALUES ({marks})", [tuple(r) for r in rows])


def _copies(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg"


def _copy(conn: Connection, statement: str, rows: list[Any]) -> None:
    """psycopg's COPY on the connection's own transaction; its errors as SQLAlchemy's."""
    dbapi = conn.dialect.loaded_dbapi
    raw: Any = conn.connection.driver_connection
    try:
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
    except dbapi.Error as exc:
        raise DBAPIError.instance(statement, None, exc, dbapi.Error,
                                  dialect=conn.dialect) from exc


def select_in(conn: Connection, query: str, params: Sequence[Any], column: str,
              values: Sequence[Any]) -> list[Any]:
    """The rows of `query` (driver SQL, `{}` where `column IN (values)` goes, `params` before
    it) as the driver returns them: one statement, without SQLAlchemy's expansion of an IN of
    hundreds of parameters at each call (a list parameter with `= ANY` on PostgreSQL)."""
    if conn.dialect.name == "postgresql":
        clause, args = f"{column} = ANY(%s)", (*params, list(values))
    else:
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        clause, args = f"{column} IN ({', '.join(mark for _ in values)})", (*params, *values)
    return list(conn.exec_driver_sql(query.format(clause), args).all())
