"""Data Integrity proofs with the `eddsa-rdfc-2022` cryptosuite.

Contexts come from the bundled copies (no network); canonical N-Quads come from
`bridge.issuing.rdfc` (a template per document shape, pyoxigraph for RDFC-1.0). The proof
options' canonical form is computed once per (context, key) with `created` substituted.
"""

from __future__ import annotations

import copy
import hashlib
import json
from functools import cache, lru_cache
from importlib import resources
from typing import Any

import base58
from cryptography.hazmat.primitives.asymmetric import ed25519
from pyld import jsonld

from bridge.issuing.rdfc import Canonicalizer

__all__ = ["canonicalize", "sign", "verify", "document_loader"]

_PLACEHOLDER = "1970-01-01T00:00:00Z"


@cache
def _contexts() -> dict[str, Any]:
    folder = resources.files("bridge.issuing") / "contexts"
    index = json.loads((folder / "index.json").read_text())
    return {url: json.loads((folder / name).read_text()) for url, name in index.items()}


def document_loader(url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Bundled contexts only: anything else is an error, never a download."""
    try:
        doc = _contexts()[url]
    except KeyError:
        raise jsonld.JsonLdError(f"context not bundled: {url}", "jsonld.LoadDocumentError",
                                 code="loading document failed") from None
    return {"contentType": "application/ld+json", "contextUrl": None, "documentUrl": url,
            "document": doc}


_CANONICALIZER = Canonicalizer(document_loader)


def canonicalize(doc: dict[str, Any]) -> str:
    """RDFC-1.0 (URDNA2015) N-Quads of a JSON-LD document."""
    return _CANONICALIZER.canonicalize(doc)


@lru_cache(maxsize=64)
def _options_template(context_json: str, verification_method: str) -> str:
    return canonicalize(_options(json.loads(context_json), verification_method, _PLACEHOLDER))


def _options(context: Any, verification_method: str, created: str) -> dict[str, Any]:
    return {"@context": context, "type": "DataIntegrityProof", "cryptosuite": "eddsa-rdfc-2022",
            "created": created, "verificationMethod": verification_method,
            "proofPurpose": "assertionMethod"}


def _hash_data(unsigned: dict[str, Any], verification_method: str, created: str) -> bytes:
    # `created` is a plain xsd:dateTime literal on the one proof node: substituting it in the
    # cached N-Quads gives exactly what canonicalising the options again would.
    options = _options_template(json.dumps(unsigned["@context"]), verification_method)
    options = options.replace(f'"{_PLACEHOLDER}"', f'"{created}"')
    return (hashlib.sha256(options.encode()).digest()
            + hashlib.sha256(canonicalize(unsigned).encode()).digest())


def sign(doc: dict[str, Any], key: ed25519.Ed25519PrivateKey, verification_method: str,
         created: str) -> dict[str, Any]:
    """A copy of `doc` with a one-element `proof` array (what the OB 3.0 schema requires)."""
    unsigned = {k: v for k, v in doc.items() if k != "proof"}
    signature = key.sign(_hash_data(unsigned, verification_method, created))
    proof = _options(None, verification_method, created)
    del proof["@context"]
    proof["proofValue"] = "z" + base58.b58encode(signature).decode()
    signed = copy.deepcopy(unsigned)
    signed["proof"] = [proof]
    return signed


def verify(doc: dict[str, Any], public_key: ed25519.Ed25519PublicKey) -> bool:
    """Our own check of a signed document (the tests also use independent verifiers)."""
    proofs = doc.get("proof")
    proof = proofs[0] if isinstance(proofs, list) else proofs
    if not isinstance(proof, dict) or not str(proof.get("proofValue", "")).startswith("z"):
        return False
    unsigned = {k: v for k, v in doc.items() if k != "proof"}
    try:
        public_key.verify(base58.b58decode(proof["proofValue"][1:]),
                          _hash_data(unsigned, proof["verificationMethod"], proof["created"]))
    except Exception:
        return False
    return True
