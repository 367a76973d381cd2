"""The OB 3.0 issuer's DID: `did:web` derived from the public URL, or `did:key`.

The did:web document lists every Ed25519 key (Multikey), so rotated keys keep verifying.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

import base58

from bridge.issuing.keys import Key

__all__ = ["did_web", "did_key", "did_document", "multibase_key", "verification_method",
           "did_document_path"]

_ED25519_MULTICODEC = b"\xed\x01"


def multibase_key(key: Key) -> str:
    return "z" + base58.b58encode(_ED25519_MULTICODEC + key.public_raw()).decode()


def did_key(key: Key) -> str:
    return f"did:key:{multibase_key(key)}"


def did_web(public_url: str) -> str:
    """https://host:port/a/b -> did:web:host%3Aport:a:b (the port's colon percent-encoded)."""
    parts = urlsplit(public_url)
    segments = [quote(s, safe="") for s in parts.path.split("/") if s]
    return ":".join(["did:web", quote(parts.netloc, safe="")] + segments)


def did_document_path(public_url: str) -> str:
    """Where the web app serves the document: /.well-known/did.json, or /did.json for a path DID."""
    return "/did.json" if urlsplit(public_url).path.strip("/") else "/.well-known/did.json"


def verification_method(did: str, key: Key) -> str:
    return f"{did}#{multibase_key(key)}" if did.startswith("did:key:") else f"{did}#key-{key.kid}"


def did_document(did: str, keys: list[Key]) -> dict[str, Any]:
    methods = [{"id": verification_method(did, k), "type": "Multikey", "controller": did,
                "publicKeyMultibase": multibase_key(k)} for k in keys]
    ids = [m["id"] for m in methods]
    return {"@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
            "id": did, "verificationMethod": methods, "assertionMethod": ids,
            "authentication": ids}
