"""Issuing: Open Badges documents, signing and baking."""
