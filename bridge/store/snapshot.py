"""A copy in memory of a store, read through a read-only connection: what `sync --dry-run`
pulls into and evaluates against, so that it reports what a run would do and writes nothing.

SQLite is opened with `mode=ro` (and `immutable=1` when no write-ahead log is there, so that
not even a `-shm` file is created); PostgreSQL with `default_transaction_read_only`. A missing
SQLite file is an empty store: nothing is created. The copy is brought to the current schema
in memory, whatever revision the store is at.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from sqlalchemy import Engine, MetaData, create_engine, event, insert, select
from sqlalchemy.pool import StaticPool

from bridge.errors import StoreError
from bridge.logs import mask_url
from bridge.store import db

__all__ = ["read_only_engine", "memory_copy"]


def read_only_engine(url: str) -> Engine | None:
    """An engine that cannot write to the store at `url`; None for a SQLite file not there."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        path = Path(url[len("sqlite:///"):].split("?", 1)[0]).resolve()
        if not path.is_file():
            return None
        wal = path.with_name(path.name + "-wal")
        flags = "mode=ro" if wal.exists() else "mode=ro&immutable=1"
        return create_engine(f"sqlite:///file:{quote(str(path))}?{flags}&uri=true")
    if url.startswith(("postgresql://", "postgresql+psycopg://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
        return create_engine(url, connect_args={"options": "-c default_transaction_read_only=on"})
    if url.startswith("sqlite://"):
        return None
    raise StoreError(f"cannot open {mask_url(url)} read-only: unknown kind of database")


def memory_copy(url: str) -> Engine:
    """A SQLite database in memory holding what the store at `url` holds, at the current schema."""
    memory = create_engine("sqlite://", poolclass=StaticPool,
                           connect_args={"check_same_thread": False})
    source = read_only_engine(url)
    try:
        revision = db.current_revision(source) if source is not None else None
        if revision is None:
            db.upgrade(memory)
            return memory
        db.upgrade(memory, revision)
        assert source is not None  # a revision was read from it
        tables = MetaData()
        tables.reflect(source)
        copies = MetaData()
        copies.reflect(memory)
        with source.connect() as src, memory.begin() as dst:
            dst.exec_driver_sql("PRAGMA foreign_keys=OFF")
            for table in tables.sorted_tables:
                if table.name == "alembic_version" or table.name not in copies.tables:
                    continue
                target = copies.tables[table.name]
                names = [c.name for c in table.columns if c.name in target.columns]
                result = src.execute(select(*(table.c[n] for n in names)))
                while rows := result.fetchmany(5000):
                    dst.execute(insert(target), [dict(zip(names, r, strict=True)) for r in rows])
    except StoreError:
        raise
    except Exception as exc:
        raise StoreError(f"cannot read {mask_url(url)}: {type(exc).__name__}: "
                         f"{mask_url(str(exc).splitlines()[0] if str(exc) else '')}") from None
    finally:
        if source is not None:
            source.dispose()
    db.upgrade(memory)
    event.listen(memory, "connect", lambda c, _r: c.execute("PRAGMA foreign_keys=ON"))
    return memory
