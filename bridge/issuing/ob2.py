"""Open Badges 2.0 documents: Issuer profile, BadgeClass, Assertion (hosted verification).

Recipient identity is the learner's email hashed with a per-award salt.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import datetime
from typing import Any

import jwt

from bridge.config import IssuerSettings
from bridge.errors import NotFound
from bridge.i18n import SOURCE, format_date, language
from bridge.issuing.evidence import moment, sentence
from bridge.issuing.keys import Key
from bridge.issuing.urls import Urls
from bridge.store import Award

__all__ = ["OB2_CONTEXT", "new_salt", "hash_identity", "recipient_hash", "issuer_profile",
           "badge_class", "assertion", "signed_assertion", "localized", "cryptographic_key",
           "revocation_list", "evidence", "signed_id"]

OB2_CONTEXT = "https://w3id.org/openbadges/v2"


def new_salt() -> str:
    return secrets.token_hex(16)


def hash_identity(email: str, salt: str) -> str:
    return "sha256$" + hashlib.sha256((email.strip().lower() + salt).encode()).hexdigest()


def recipient_hash(award: Award) -> str:
    """The award's hashed recipient; an erased learner's award has none to show."""
    if award.recipient_email is None:
        raise NotFound(f"award {award.id}: its learner was erased")
    return hash_identity(award.recipient_email, award.salt)


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="seconds").replace("+00:00", "Z")


def issuer_profile(urls: Urls, issuer: IssuerSettings, key: Key | None = None) -> dict[str, Any]:
    """The Issuer; `key` (the current RSA key) is its publicKey.

    OB 2.0 allows one publicKey per Issuer (the reference validator rejects a list), so
    after a rotation older keys stay served at their URL but are no longer the issuer's.
    """
    doc: dict[str, Any] = {
        "@context": OB2_CONTEXT, "type": "Issuer", "id": urls.issuer(),
        "name": issuer.name, "url": issuer.url, "email": issuer.email,
        "revocationList": urls.revocations(),
    }
    if issuer.description:
        doc["description"] = issuer.description
    if issuer.image:
        doc["image"] = urls.issuer_image()
    if key:
        doc["publicKey"] = urls.ob2_key(key.kid)
    return doc


def cryptographic_key(urls: Urls, key: Key) -> dict[str, Any]:
    return {"@context": OB2_CONTEXT, "type": "CryptographicKey", "id": urls.ob2_key(key.kid),
            "owner": urls.issuer(), "publicKeyPem": key.public_pem()}


def localized(definition: dict[str, Any], field: str, lang: str) -> str:
    """A field of the stored badge snapshot in `lang`, else in its first language."""
    values = definition.get(field) or {}
    return values.get(lang) or next(iter(values.values()), "")


def badge_class(urls: Urls, badge_id: str, definition: dict[str, Any], lang: str,
                tagged: bool = True) -> dict[str, Any]:
    """`definition` is the stored badge snapshot: name/description/criteria dicts by language.

    `tagged`: its id is the URL of this language's BadgeClass (an award's assertion points
    there); untagged, the plain URL, which serves the issuer's default language."""
    def text(field: str) -> str:
        return localized(definition, field, lang)

    doc: dict[str, Any] = {
        "@context": OB2_CONTEXT, "type": "BadgeClass", "id": urls.badge(badge_id, lang if tagged else None),
        "name": text("name"), "description": text("description") or text("name"),
        "image": urls.badge_image(badge_id),
        "criteria": {"id": urls.badge(badge_id, lang if tagged else None) + "#criteria",
                     "narrative": text("criteria") or text("description")},
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


def assertion(urls: Urls, award: Award) -> dict[str, Any]:
    """A hosted Assertion for a stored award row."""
    doc: dict[str, Any] = {
        "@context": OB2_CONTEXT, "type": "Assertion", "id": urls.assertion(award.id),
        "recipient": {"type": "email", "hashed": True, "salt": award.salt,
                      "identity": recipient_hash(award)},
        "badge": urls.badge(award.badge_id, award.lang),  # the badge's texts in the award's language
        "issuedOn": _iso(award.issued_at),
        "verification": {"type": "hosted"},
        "image": urls.baked_png(award.id),
    }
    if award.expires_at:
        doc["expires"] = _iso(award.expires_at)
    if award.provenance:
        doc["evidence"] = evidence(urls, award)
    if award.status == "revoked":
        doc["revoked"] = True
        doc["revocationReason"] = award.revocation_reason or ""
    return doc


def signed_id(award_id: str) -> str:
    return f"urn:uuid:{award_id}"


def signed_assertion(urls: Urls, award: Award, key: Key) -> str:
    """The same Assertion, signed (JWS RS256); its id is a URN since it is not hosted."""
    doc = assertion(urls, award)
    doc["id"] = signed_id(award.id)
    doc["verification"] = {"type": "SignedBadge", "creator": urls.ob2_key(key.kid)}
    doc.pop("revoked", None)
    doc.pop("revocationReason", None)
    payload = json.dumps(doc, separators=(",", ":")).encode()
    return jwt.api_jws.encode(payload, key.private, algorithm="RS256",  # type: ignore[arg-type]
                              headers={"kid": key.kid})


def evidence(urls: Urls, award: Award, lang: str | None = None) -> list[dict[str, Any]]:
    """One Evidence per fact behind the award, in words (in the award's language unless `lang`)."""
    lang = lang or award.lang or SOURCE
    out = []
    with language(lang):
        for i, fact in enumerate(award.provenance, 1):
            # What the fact is about, once per kind of fact and language; its own date apart.
            name = _about(fact, lang)
            when = moment(fact)
            narrative = f"{name} — {format_date(when)}" if when else name
            out.append({"id": f"{urls.verify_page(award.id)}#evidence-{i}", "name": name,
                        "narrative": narrative})
    return out


_MOMENTS = ("session_date", "occurred_at")


_ABOUT: dict[tuple[Any, ...], str] = {}


def _about(fact: dict[str, Any], lang: str) -> str:
    """What a fact is about, in `lang` (the language in force): once per fact without its
    moments, since the awards of a run share a few kinds of fact."""
    try:
        key = (lang, *sorted((k, _frozen(v)) for k, v in fact.items() if k not in _MOMENTS))
        hash(key)
    except TypeError:
        return sentence(fact, lang)[0]
    found = _ABOUT.get(key)
    if found is None:
        if len(_ABOUT) >= 4096:
            _ABOUT.clear()
        found = _ABOUT[key] = sentence(fact, lang)[0]
    return found


def _frozen(value: Any) -> Any:
    if isinstance(value, dict):
        return ("dict", *sorted((k, _frozen(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ("list", *(_frozen(v) for v in value))
    return value


def revocation_list(urls: Urls, revoked: list[Award]) -> dict[str, Any]:
    """Each revoked award under both its ids: hosted URL and the URN of its signed form."""
    return {
        "@context": OB2_CONTEXT, "type": "RevocationList", "id": urls.revocations(),
        "issuer": urls.issuer(),
        "revokedAssertions": [{"id": ident, "revocationReason": a.revocation_reason or ""}
                              for a in revoked
                              for ident in (urls.assertion(a.id), signed_id(a.id))],
    }
