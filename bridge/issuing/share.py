"""Where a learner takes an award: LinkedIn's add-to-profile link, the embed code, a QR code.

The email and the page offer the same links, so they are written once, here.
"""

from __future__ import annotations

import io
from datetime import datetime
from functools import lru_cache
from html import escape
from urllib.parse import quote_plus, urlencode

import segno

__all__ = ["linkedin_url", "embed_code", "qr_svg"]


def linkedin_url(*, badge_name: str, organization: str, organization_id: int | None,
                 issued_at: datetime, expires_at: datetime | None, cert_url: str,
                 cert_id: str) -> str:
    """LinkedIn's add-to-profile link with the certification fields filled in.

    With the issuer's LinkedIn organisation id the certification links to its page; the name
    alone shows as plain text (LinkedIn's "Add to Profile" documentation)."""
    expires = None if expires_at is None else (expires_at.year, expires_at.month)
    alike = _linkedin_head(badge_name, organization, organization_id, issued_at.year,
                           issued_at.month, expires)
    # What `urlencode` writes for the last two fields (a test compares the whole link with it).
    return f"{alike}&certUrl={quote_plus(cert_url)}&certId={quote_plus(cert_id)}"


@lru_cache(maxsize=1024)
def _linkedin_head(badge_name: str, organization: str, organization_id: int | None,
                   issue_year: int, issue_month: int, expires: tuple[int, int] | None) -> str:
    """The link up to its per-award fields: the same for the awards of a badge in a month."""
    fields: dict[str, str | int] = {"startTask": "CERTIFICATION_NAME", "name": badge_name}
    if organization_id is not None:
        fields["organizationId"] = organization_id
    else:
        fields["organizationName"] = organization
    fields.update(issueYear=issue_year, issueMonth=issue_month)
    if expires is not None:
        fields.update(expirationYear=expires[0], expirationMonth=expires[1])
    return "https://www.linkedin.com/profile/add?" + urlencode(fields)


def embed_code(page_url: str, image_url: str, alt: str) -> str:
    """HTML to paste in a web page or a blog: the badge image linking to its verification page."""
    return (f'<a href="{escape(page_url)}"><img src="{escape(image_url)}" alt="{escape(alt)}" '
            f'width="160" height="160"></a>')


def qr_svg(url: str, *, fit: bool = False) -> bytes:
    """The URL as a QR code (SVG), readable by a phone's camera from a screen or paper; with
    `fit`, no fixed size: it fills the box the page gives it (a projected screen)."""
    out = io.BytesIO()
    segno.make(url, error="m", micro=False).save(out, kind="svg", scale=4, border=4 if fit else 2,
                                                 title=url, xmldecl=False, omitsize=fit)
    return out.getvalue()
