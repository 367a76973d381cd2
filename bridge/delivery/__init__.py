"""Delivery: award emails and their templates."""
