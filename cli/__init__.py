"""The `badge-bridge` command line: the top layer, the only one that may import every other.

`cli → jobs → connectors | badge_rules → bridge` (see docs/architecture.md).
"""

from __future__ import annotations

from .main import main

__all__ = ["main"]
