"""The `openedx` connector: a current Open edX LMS (see connector.py), and what it needs of the
platform (requirements.py)."""

from connectors.openedx.config import OpenEdxConfig
from connectors.openedx.connector import OpenEdxConnector

__all__ = ["OpenEdxConfig", "OpenEdxConnector"]
