"""Open Badges 3.0 documents: OpenBadgeCredential, its VC-JWT form, the status list credential.

Pure builders: signing with Data Integrity is done by `bridge.issuing.dataintegrity`.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519

from bridge.config import IssuerSettings
from bridge.issuing import ob2
from bridge.issuing.keys import Key
from bridge.issuing.urls import Urls
from bridge.store import Award, StatusSlot

__all__ = ["CONTEXT", "credential", "vc_jwt", "status_list_credential", "achievement",
           "issuer_profile"]

CONTEXT = ["https://www.w3.org/ns/credentials/v2",
           "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
           "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json"]
SCHEMA = {"id": "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/"
                "ob_v3p0_achievementcredential_schema.json",
          "type": "1EdTechJsonSchemaValidator2019"}


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="seconds").replace("+00:00", "Z")


def issuer_profile(urls: Urls, issuer: IssuerSettings, did: str) -> dict[str, Any]:
    doc: dict[str, Any] = {"id": did, "type": ["Profile"], "name": issuer.name, "url": issuer.url,
                           "email": issuer.email}
    if issuer.description:
        doc["description"] = issuer.description
    if issuer.image:
        doc["image"] = {"id": urls.issuer_image(), "type": "Image"}
    return doc


def achievement(urls: Urls, badge_id: str, definition: dict[str, Any], lang: str) -> dict[str, Any]:
    """The Achievement, from the same BadgeClass the OB 2.0 side publishes."""
    bc = ob2.badge_class(urls, badge_id, definition, lang)
    doc: dict[str, Any] = {
        "id": urls.achievement(badge_id), "type": ["Achievement"], "name": bc["name"],
        "description": bc["description"], "criteria": {"narrative": bc["criteria"]["narrative"]},
        "image": {"id": bc["image"], "type": "Image"}, "inLanguage": lang,
    }
    if bc.get("tags"):
        doc["tag"] = bc["tags"]
    # OB 3.0 requires targetUrl on an Alignment: the ones without a URL stay OB 2.0-only.
    aligned = [dict(type=["Alignment"], **a) for a in bc.get("alignment", []) if a.get("targetUrl")]
    if aligned:
        doc["alignment"] = aligned
    return doc


def credential(urls: Urls, issuer: dict[str, Any], award: Award, achievement: dict[str, Any],
               status: StatusSlot | None) -> dict[str, Any]:
    """The unsigned OpenBadgeCredential of one award; `status` is its (list id, index)."""
    doc: dict[str, Any] = {
        "@context": CONTEXT, "id": urls.credential(award.id),
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": issuer, "validFrom": _iso(award.issued_at),
        "name": achievement["name"],
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "identifier": [{"type": "IdentityObject",
                            "identityHash": ob2.recipient_hash(award),
                            "identityType": "emailAddress", "hashed": True, "salt": award.salt}],
            "achievement": achievement,
        },
        "credentialSchema": [SCHEMA],
    }
    if status is not None:
        list_id, index = status
        doc["credentialStatus"] = {
            "id": f"{urls.status_list(list_id)}#{index}", "type": "BitstringStatusListEntry",
            "statusPurpose": "revocation", "statusListIndex": str(index),
            "statusListCredential": urls.status_list(list_id)}
    if award.expires_at:
        doc["validUntil"] = _iso(award.expires_at)
    if award.provenance:
        doc["evidence"] = [dict(type=["Evidence"], **e) for e in ob2.evidence(urls, award)]
    return doc


def vc_jwt(unsigned: dict[str, Any], key: Key, verification_method: str) -> str:
    """VC-JWT as OB 3.0 §8.2 describes it: the credential in `vc`, registered claims beside.

    The same bytes as `jwt.encode(claims, key, "EdDSA", headers={"kid": …, "typ": "JWT"})`
    (a test compares them): the header is encoded once per key, the claims serialised as
    PyJWT does, and signed by the Ed25519 key directly (PyJWT's checks cost more than that)."""
    claims: dict[str, Any] = {"iss": unsigned["issuer"]["id"], "jti": unsigned["id"],
                              "nbf": int(datetime.fromisoformat(unsigned["validFrom"]).timestamp()),
                              "vc": unsigned}
    if unsigned.get("validUntil"):
        claims["exp"] = int(datetime.fromisoformat(unsigned["validUntil"]).timestamp())
    private = key.private
    if not isinstance(private, ed25519.Ed25519PrivateKey):
        raise TypeError("a VC-JWT is signed with an Ed25519 key")
    signing_input = _jwt_header(verification_method) + b"." + _b64(
        json.dumps(claims, separators=(",", ":")).encode())
    return (signing_input + b"." + _b64(private.sign(signing_input))).decode()


@lru_cache(maxsize=16)
def _jwt_header(verification_method: str) -> bytes:
    return _b64(json.dumps({"alg": "EdDSA", "kid": verification_method, "typ": "JWT"},
                           separators=(",", ":"), sort_keys=True).encode())


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def status_list_credential(urls: Urls, did: str, list_id: int, encoded: str,
                           valid_from: datetime) -> dict[str, Any]:
    url = urls.status_list(list_id)
    return {"@context": ["https://www.w3.org/ns/credentials/v2"], "id": url,
            "type": ["VerifiableCredential", "BitstringStatusListCredential"],
            "issuer": did, "validFrom": _iso(valid_from),
            "credentialSubject": {"id": f"{url}#list", "type": "BitstringStatusList",
                                  "statusPurpose": "revocation", "encodedList": encoded}}
