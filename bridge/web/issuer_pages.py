"""What the issuer's page (`/`) and a badge class's page show, in one language.

Browsers get these pages at the URLs machines get the JSON-LD from (content negotiation).
"""

from __future__ import annotations

from typing import Any

from bridge.issuing.issuer import Issuer
from bridge.issuing.ob2 import localized
from bridge.store import Badge

__all__ = ["home_context", "badge_context"]


def home_context(issuer: Issuer, badges: list[Badge], lang: str) -> dict[str, Any]:
    settings, urls = issuer.config.issuer, issuer.urls
    return dict(
        issuer_name=settings.name, issuer_url=settings.url, issuer_email=settings.email,
        description=settings.description, profile_url=urls.issuer(),
        badges=[{"name": localized(b.definition, "name", lang), "url": urls.badge(b.id),
                 "image_url": urls.badge_image(b.id)} for b in badges],
    )


def badge_context(issuer: Issuer, badge: Badge, lang: str) -> dict[str, Any]:
    definition, urls = badge.definition, issuer.urls
    return dict(
        issuer_name=issuer.config.issuer.name,
        badge_name=localized(definition, "name", lang),
        description=localized(definition, "description", lang),
        criteria=localized(definition, "criteria", lang) or localized(definition, "description", lang),
        image_url=urls.badge_image(badge.id), page_url=urls.badge(badge.id),
        alignments=definition.get("alignments") or [],
        tags=" · ".join(definition.get("tags") or []),
    )
