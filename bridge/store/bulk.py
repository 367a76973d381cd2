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

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, DateTime, Table
from sqlalchemy.exc import DBAPIError

__all__ = ["insert_rows"]

_Processor = Callable[[Any], Any] | None


def _processors(conn: Connection, table: Table, columns: Sequence[str]) -> list[_Processor]:
    """Each column's bind processor for this dialect; a date's is memoised (a batch's rows
    mostly share the same few instants, and SQLite's formats each by hand)."""
    out: list[_Processor] = []
    for name in columns:
        column_type = table.c[name].type
        proc = column_type._cached_bind_processor(conn.dialect)
        if proc is not None and isinstance(column_type, DateTime):
            proc = _memoised(proc)
        out.append(proc)
    return out


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
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
        _copy(conn, f"COPY {target} ({names}) FROM STDIN", rows)
        return
    marks = ", ".join("?" if conn.dialect.paramstyle == "qmark" else "%s" for _ in columns)
    conn.exec_driver_sql(f"INSERT INTO {target} ({names}) VALUES ({marks})", [tuple(r) for r in rows])


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
