"""A first run killed while it creates the schema leaves nothing half-made: the next run
migrates. (Found by the crash trials: on SQLite each CREATE TABLE committed on its own, and a
store killed mid-migration answered "table … already exists" to every later run.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic import op
from sqlalchemy import inspect

from bridge.store import Store
from bridge.store.db import open_engine


def test_a_migration_that_dies_half_way_leaves_no_half_schema(db_url: str, monkeypatch: Any) -> None:
    real, calls = op.create_table, []

    def dies_at_the_fifth(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[0])
        if len(calls) == 5:  # tables already created in this upgrade: the process dies here
            raise KeyboardInterrupt("killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(op, "create_table", dies_at_the_fifth)
    with pytest.raises(KeyboardInterrupt):
        Store(db_url)
    engine = open_engine(db_url)
    try:
        left = set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()
    assert len(calls) == 5 and left == set()
    monkeypatch.setattr(op, "create_table", real)
    store = Store(db_url)  # the next run migrates
    assert store.revision() is not None and store.counts()["awards"] == 0
    store.close()


def test_the_sqlite_file_is_migrated_whole_by_another_process_after(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    Store(url).close()
    again = Store(url)
    assert again.revision() is not None
    again.close()
