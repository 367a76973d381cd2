"""Open Badges 2.0 documents: Issuer profile, BadgeClass, Assertion (hosted verification).

Recipient identity is the learner's email hashed with a per-award salt.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Any

from bridge.config import IssuerSettings
from bridge.issuing.urls import Urls

__all__ = ["OB2_CONTEXT", "new_salt", "hash_identity", "issuer_profile", "badge_class", "assertion",
           "revocation_list"]

OB2_CONTEXT = "https://w3id.org/openbadges/v2"


def new_salt() -> str:
    return secrets.token_hex(16)


def hash_identity(email: str, salt: str) -> str:
    return "sha256$" + hashlib.sha256((email.strip().lower() + salt).encode()).hexdigest()


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="seconds").replace("+00:00", "Z")


def issuer_profile(urls: Urls, issuer: IssuerSettings) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "@context": OB2_CONTEXT, "type": "Issuer", "id": urls.issuer(),
        "name": issuer.name, "url": issuer.url, "email": issuer.email,
        "revocationList": urls.revocations(),
    }
    if issuer.description:
        doc["description"] = issuer.description
    return doc


def badge_class(urls: Urls, badge_id: str, definition: dict[str, Any], lang: str) -> dict[str, Any]:
    """`definition` is the stored badge snapshot: name/description/criteria dicts by language."""
    def text(field: str) -> str:
        values = definition.get(field) or {}
        return values.get(lang) or next(iter(values.values()), "")

    doc: dict[str, Any] = {
        "@context": OB2_CONTEXT, "type": "BadgeClass", "id": urls.badge(badge_id),
        "name": text("name"), "description": text("description") or text("name"),
        "image": urls.badge_image(badge_id),
        "criteria": {"id": urls.badge(badge_id) + "#criteria", "narrative": text("criteria") or text("description")},
        "issuer": urls.issuer(),
    }
    if definition.get("tags"):
        doc["tags"] = list(definition["tags"])
    if definition.get("alignments"):
        doc["alignment"] = [
            {k: v for k, v in (("targetName", a.get("name")), ("targetUrl", a.get("url")),
                               ("targetCode", a.get("code")), ("targetFramework", a.get("framework")))
             if v}
            for a in definition["alignments"]]
    return doc


def assertion(urls: Urls, award: dict[str, Any]) -> dict[str, Any]:
    """A hosted Assertion for a stored award row."""
    doc: dict[str, Any] = {
        "@context": OB2_CONTEXT, "type": "Assertion", "id": urls.assertion(award["id"]),
        "recipient": {"type": "email", "hashed": True, "salt": award["salt"],
                      "identity": hash_identity(award["recipient_email"], award["salt"])},
        "badge": urls.badge(award["badge_id"]),
        "issuedOn": _iso(award["issued_at"]),
        "verification": {"type": "hosted"},
        "image": urls.baked_png(award["id"]),
    }
    if award.get("expires_at"):
        doc["expires"] = _iso(award["expires_at"])
    evidence = award.get("provenance") or []
    if evidence:
        doc["evidence"] = [{"id": urls.verify_page(award["id"]) + "#evidence",
                            "narrative": "; ".join(_fact_line(f) for f in evidence)}]
    if award.get("status") == "revoked":
        doc["revoked"] = True
        doc["revocationReason"] = award.get("revocation_reason") or ""
    return doc


def _fact_line(fact: dict[str, Any]) -> str:
    when = f" ({fact['occurred_at'][:10]})" if fact.get("occurred_at") else ""
    item = f" {fact['item']}" if fact.get("item") else ""
    return f"{fact['kind']} {fact['source']}/{fact['course']}{item}{when}"


def revocation_list(urls: Urls, revoked: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "@context": OB2_CONTEXT, "type": "RevocationList", "id": urls.revocations(),
        "issuer": urls.issuer(),
        "revokedAssertions": [{"id": urls.assertion(a["id"]),
                               "revocationReason": a.get("revocation_reason") or ""} for a in revoked],
    }
