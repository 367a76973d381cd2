"""The `fun` connector: FUN-MOOC (Open edX Dogwood) read from the instructor dashboard's reports
and per-learner grades (connector.py); what it needs (requirements.py)."""

from connectors.fun.config import FunConfig
from connectors.fun.connector import FunConnector

__all__ = ["FunConfig", "FunConnector"]
