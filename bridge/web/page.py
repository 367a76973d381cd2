"""What the verification page shows about one award, in one language.

Plain values only: the template escapes every one of them (autoescape is on for .html.j2) and
formats the dates in the page's language.
"""

from __future__ import annotations

from typing import Any

from bridge import i18n
from bridge.issuing import ob2
from bridge.issuing.issuer import Issuer
from bridge.issuing.ob2 import localized
from bridge.store import Award

__all__ = ["page_context"]


def page_context(issuer: Issuer, award: Award, lang: str, status: str) -> dict[str, Any]:
    urls, config = issuer.urls, issuer.config
    definition = issuer.badge(award.badge_id).definition
    hide = config.bridge.hide_recipient_name or not award.recipient_name
    aid = award.id
    return dict(
        og_locale=i18n.territory_locale(lang),
        other_languages=[(code, i18n.display_name(code)) for code in i18n.languages() if code != lang],
        badge_name=localized(definition, "name", lang),
        criteria=localized(definition, "criteria", lang) or localized(definition, "description", lang),
        description=localized(definition, "description", lang),
        image_url=urls.badge_image(award.badge_id), og_image=urls.baked_png(aid),
        page_url=urls.verify_page(aid), assertion_url=urls.assertion(aid),
        downloads=[("png", urls.baked_png(aid), "image/png"), ("svg", urls.baked_svg(aid), "image/svg+xml"),
                   ("json", urls.assertion(aid), "application/ld+json"),
                   ("ob3", urls.credential(aid), "application/vc+ld+json"),
                   ("ob3_png", urls.credential_png(aid), "image/png")],
        status=status, recipient_name=None if hide else award.recipient_name,
        issuer_name=config.issuer.name, issuer_url=config.issuer.url,
        issued_at=award.issued_at, expires_at=award.expires_at,
        revoked_at=award.revoked_at, revocation_reason=award.revocation_reason,
        evidence=[e["narrative"] for e in ob2.evidence(urls, award, lang)],
        alignments=definition.get("alignments") or [],
    )
