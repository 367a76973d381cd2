"""Puts the repository first on sys.path for these tests.

pytest's default import mode adds tests/ to sys.path, where tests/badge_rules would shadow the
badge_rules package as an empty namespace under the venv's `pytest` script.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
