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
from bridge.issuing.share import embed_code, linkedin_url
from bridge.store import Award

__all__ = ["page_context"]


def page_context(issuer: Issuer, award: Award, lang: str, status: str,
                 wallet_offer: dict[str, str] | None = None) -> dict[str, Any]:
    urls, config = issuer.urls, issuer.config
    definition = issuer.badge(award.badge_id).definition
    hide = config.bridge.hide_recipient_name or award.name_hidden or not award.recipient_name
    aid = award.id
    badge_name = localized(definition, "name", lang)
    page_url = urls.verify_page(aid)
    return dict(
        og_locale=i18n.territory_locale(lang),
        badge_name=badge_name,
        criteria=localized(definition, "criteria", lang) or localized(definition, "description", lang),
        description=localized(definition, "description", lang),
        image_url=urls.badge_image(award.badge_id), og_image=urls.baked_png(aid),
        page_url=page_url, assertion_url=urls.assertion(aid), badge_url=urls.badge(award.badge_id),
        downloads=[("png", urls.baked_png(aid), "image/png"), ("svg", urls.baked_svg(aid), "image/svg+xml"),
                   ("json", urls.assertion(aid), "application/ld+json"),
                   ("ob3", urls.credential(aid), "application/vc+ld+json"),
                   ("ob3_png", urls.credential_png(aid), "image/png")],
        status=status, recipient_name=None if hide else award.recipient_name,
        issuer_name=config.issuer.name,
        issued_at=award.issued_at, expires_at=award.expires_at,
        revoked_at=award.revoked_at, revocation_reason=award.revocation_reason,
        evidence=[e["narrative"] for e in ob2.evidence(urls, award, lang)],
        alignments=definition.get("alignments") or [],
        linkedin_url=linkedin_url(
            badge_name=badge_name, organization=config.issuer.name,
            organization_id=config.issuer.linkedin_organization_id, issued_at=award.issued_at,
            expires_at=award.expires_at, cert_url=page_url, cert_id=aid),
        embed_code=embed_code(page_url, urls.baked_png(aid), badge_name),
        qr_url=urls.page_qr(aid), wallet_offer=wallet_offer,
    )
