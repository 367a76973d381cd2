"""Opening the database and bringing its schema to the current Alembic revision.

SQLite gets WAL and foreign keys; PostgreSQL is used as given by its URL.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from bridge.errors import StoreError
from bridge.redact import mask_url, scrub

__all__ = ["open_engine", "upgrade", "current_revision", "head_revision", "redact",
           "schema_state"]

_MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
_UPGRADE_LOCK = threading.Lock()
_MIGRATION_LOCK = 0x6261646765  # "badge": an arbitrary key shared by every badge-bridge process


def redact(url: str) -> str:
    """The URL with its password masked."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy parses: mask what looks like a password
        return mask_url(url)


_redact = redact


def _sqlite_file(url: str) -> Path | None:
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        return Path(url[len("sqlite:///"):].split("?", 1)[0])
    return None


def default_keys_dir(url: str) -> Path | None:
    """The keys folder of a store opened without one: `keys` next to an SQLite file (the
    config's data_dir layout); none for a server database."""
    file = _sqlite_file(url)
    return file.parent / "keys" if file else None


def _private_file(file: Path) -> None:
    """The SQLite file's folder created 0700 and the file 0600 before SQLite opens it (its
    -wal and -shm files take the file's mode): learners' data is not for other accounts."""
    folder = file.parent
    if not folder.exists():
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(folder, 0o700)
    if not file.exists():
        try:
            os.close(os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            pass
    try:
        if file.stat().st_mode & 0o077:
            os.chmod(file, 0o600)  # a store created world-readable by an earlier version
    except OSError:
        pass  # not ours to change: SQLite says if it cannot be opened


def open_engine(url: str) -> Engine:
    """An engine for `url`; creates the SQLite file's folder (0700) and the file (0600)."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    file = _sqlite_file(url)
    if file is not None:
        _private_file(file)
    try:
        engine = create_engine(url, future=True, pool_pre_ping=True)
    except ImportError as exc:
        extra = " (pip install 'badge-bridge[postgres]')" if "psycopg" in str(exc) else ""
        raise StoreError(f"cannot open database {_redact(url)}: {exc}{extra}") from None
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot open database {_redact(url)}: {type(exc).__name__}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _alembic_config() -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _sqlite_ddl_engine(engine: Engine) -> Engine | None:
    """For an SQLite file: an engine whose transactions really hold DDL. Python's sqlite3 opens a
    transaction only before a data change, so each CREATE TABLE of a migration would commit on
    its own and a process killed mid-migration would leave half a schema that no later run can
    migrate ("table … already exists"). Here the driver's own handling is off and BEGIN
    IMMEDIATE is sent, so the whole upgrade commits or leaves nothing (SQLAlchemy's pysqlite
    recipe). None for another database, or an in-memory one (a second engine would not see it)."""
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return None
    ddl = create_engine(engine.url, future=True, poolclass=NullPool)

    def connect(dbapi_conn, record) -> None:  # type: ignore[no-untyped-def]
        _sqlite_pragmas(dbapi_conn, record)
        dbapi_conn.isolation_level = None

    event.listen(ddl, "connect", connect)
    event.listen(ddl, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
    return ddl


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply the migrations up to `revision` (idempotent)."""
    cfg = _alembic_config()
    migrating = _sqlite_ddl_engine(engine) or engine
    try:
        # Alembic's context is module-global, so threads of one process migrate in turn too.
        with _UPGRADE_LOCK, migrating.begin() as conn:
            if conn.dialect.name == "postgresql":
                # Machines starting together would race on CREATE TABLE: one migrates at a time.
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    except OperationalError as exc:
        raise StoreError(f"cannot migrate {_redact(engine.url.render_as_string(hide_password=False))}: "
                         f"{scrub(str(exc.orig))}") from None
    finally:
        if migrating is not engine:
            migrating.dispose()


def schema_state(url: str) -> tuple[str | None, str, bool]:
    """(the database's revision, the code's head, whether the code knows the database's),
    read without migrating anything; StoreError naming the reason when it cannot be reached."""
    engine = open_engine(url)
    try:
        current = current_revision(engine)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise StoreError(reason) from None
    finally:
        engine.dispose()
    script = ScriptDirectory.from_config(_alembic_config())
    try:
        known = current is None or script.get_revision(current) is not None
    except Exception:  # alembic raises several kinds for an unknown id
        known = False
    return current, script.get_current_head() or "", known
