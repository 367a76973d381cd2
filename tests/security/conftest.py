"""A small world for the security tests: a sign-in sheet source, a rule on presence, a real SMTP
catcher on loopback, and a store on SQLite or PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from bridge.config import Config
from bridge.delivery.catcher import MailCatcher
from bridge.store import Store
from connectors.registry import load as load_config

RULE = '''
[badge]
id = "atelier"
name = { fr = "Atelier", en = "Workshop" }
description = { fr = "A participé.", en = "Attended." }

[condition]
all = [{ presence = { source = "sheets", course = "c1" } }]
'''

HEADER = "email,nom,prénom,présent,date\n"


@dataclass
class World:
    tmp: Path
    config: Config
    store: Store
    mailbox: MailCatcher

    def sheet(self, rows: str, name: str = "s1.csv") -> Path:
        path = self.tmp / "sheets" / name
        path.write_text(HEADER + rows, encoding="utf-8")
        return path


@pytest.fixture
def world(tmp_path: Path, db_url: str):
    mailbox = MailCatcher(tmp_path / "mail").start()
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "atelier.toml").write_text(RULE, encoding="utf-8")
    (tmp_path / "sheets").mkdir()
    cfg = tmp_path / "bridge.toml"
    cfg.write_text(f'''[bridge]
data_dir = "{tmp_path / 'state'}"
database_url = "{db_url}"
rules_dir = "{tmp_path / 'rules'}"
public_url = "http://127.0.0.1:8000"

[smtp]
host = "127.0.0.1"
port = {mailbox.port}

[sources.sheets]
kind = "csv"
path = "{tmp_path / 'sheets'}"
course = "c1"
''', encoding="utf-8")
    config = load_config(cfg)
    store = Store(config.bridge.db_url, keys_dir=config.bridge.keys_path)
    yield World(tmp_path, config, store, mailbox)
    store.close()
    mailbox.stop()
