"""The web app: hosted badges, verification pages, health and metrics."""
