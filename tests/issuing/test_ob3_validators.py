"""OB 3.0 credentials served by the real web app, checked by independent verifiers.

verifier-core (DCC), Digital Bazaar's verifier (with the kit's status checker) and the JSON Schema
see the credential exactly as issued. VC-JWT is checked with PyJWT (PyPI).
"""

from __future__ import annotations

import base64
import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import base58
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from bridge.issuing.issuer import Issuer

pytestmark = pytest.mark.validators


def save(tmp_path: Path, name: str, data: bytes | dict) -> str:
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else json.dumps(data).encode())
    return str(path)


@pytest.mark.parametrize("path", ["", "/badge.png", "/badge.svg"])
def test_issued_credential_passes_verifier_core(kit, served, fetch, tmp_path, path) -> None:
    award = served.award()
    status, body = fetch(served.issuer.urls.credential(award.id) + path)
    assert status == 200
    code, out = kit.run("ob3-verify-dcc", save(tmp_path, f"c{path.replace('/', '-')}", body))
    assert code == 0 and "SIGNATURE VALID, NO FAILED STEP" in out, out


def test_issued_credential_matches_the_ob3_json_schema(kit, served, fetch, tmp_path) -> None:
    award = served.award(expires=timedelta(days=365))
    body = fetch(served.issuer.urls.credential(award.id))[1]
    doc = json.loads(body)
    assert isinstance(doc["proof"], list) and len(doc["proof"]) == 1
    assert doc["credentialStatus"]["type"] == "BitstringStatusListEntry"
    code, out = kit.run("ob3-schema", save(tmp_path, "c.json", body))
    assert code == 0 and "SCHEMA VALID" in out, out


@pytest.mark.parametrize("issuer_kind", ["did:web", "did:key"])
def test_digital_bazaar_verifies_the_issued_credential_and_its_status(kit, make_world, port, tmp_path,
                                                                     issuer_kind) -> None:
    """The kit's ob3-verify checks the proof, the issuer's key and the BitstringStatusListEntry
    (it fetches our status list from the running app and verifies that list's own proof): the
    credential as issued, as JSON and baked in PNG and SVG, verifies; once revoked it does not."""
    from bridge.web.server import BackgroundServer

    world = make_world(ob3_issuer=issuer_kind)
    award = world.award()
    server = BackgroundServer(world.config, world.store, "127.0.0.1", port).start()
    try:
        files = {"c.json": json.dumps(world.issuer.ob3_credential(award)).encode(),
                 "c.png": world.issuer.baked(award, "ob3.png"),
                 "c.svg": world.issuer.baked(award, "ob3.svg")}
        for name, data in files.items():
            code, out = kit.run("ob3-verify", save(tmp_path, name, data))
            assert code == 0 and out.strip().endswith("CREDENTIAL VERIFIED"), out
        world.store.awards.revoke(award.id, "Fraude")
        for name, data in files.items():
            code, out = kit.run("ob3-verify", save(tmp_path, "revoked-" + name, data))
            assert code == 1 and "NOT VERIFIED" in out, out
    finally:
        server.stop()


@pytest.mark.parametrize("field", ["name", "issuer", "recipient", "proof"])
def test_tampered_credentials_fail_both_verifiers(kit, served, tmp_path, field) -> None:
    award = served.award()
    for tool in ("ob3-verify-dcc", "ob3-verify"):
        cred = served.issuer.ob3_credential(award)
        if field == "name":
            cred["credentialSubject"]["achievement"]["name"] = "Expert SNT"
        elif field == "issuer":
            cred["issuer"]["name"] = "Université fictive"
        elif field == "recipient":
            cred["credentialSubject"]["identifier"][0]["identityHash"] = "sha256$" + "0" * 64
        else:
            value = cred["proof"][0]["proofValue"]
            cred["proof"][0]["proofValue"] = value[:-2] + ("AB" if value[-2:] != "AB" else "CD")
        code, out = kit.run(tool, save(tmp_path, f"{tool}.json", cred))
        assert code == 1, out


def test_expired_credential_fails(kit, served, tmp_path) -> None:
    award = served.award(issued=datetime.now(UTC).replace(microsecond=0) - timedelta(days=400),
                         expires=timedelta(days=365))
    code, out = kit.run("ob3-verify", save(tmp_path, "e.json", served.issuer.ob3_credential(award)))
    assert code == 1 and "NOT VERIFIED" in out, out
    code, out = kit.run("ob3-verify-dcc", save(tmp_path, "e2.json", served.issuer.ob3_credential(award)))
    assert code == 1 and "expir" in out.lower(), out


def _bit(status_list: dict, index: int) -> bool:
    encoded = status_list["credentialSubject"]["encodedList"]
    assert encoded.startswith("u")
    bits = gzip.decompress(base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4)))
    return bool(bits[index // 8] & (0x80 >> (index % 8)))


def test_revoked_credential_fails_through_the_served_status_list(kit, served, fetch, tmp_path) -> None:
    award, other = served.award(), served.award()
    cred = served.issuer.ob3_credential(award)
    index = int(cred["credentialStatus"]["statusListIndex"])
    other_index = int(served.issuer.ob3_credential(other)["credentialStatus"]["statusListIndex"])
    url = cred["credentialStatus"]["statusListCredential"]
    assert not _bit(json.loads(fetch(url)[1]), index)
    served.store.awards.revoke(award.id, "Fraude")
    status_list = json.loads(fetch(url)[1])
    assert _bit(status_list, index) and not _bit(status_list, other_index)
    code, out = kit.run("ob3-verify-dcc", save(tmp_path, "r.json", cred))
    assert code == 1 and "revocation_status" in out, out
    code, out = kit.run("ob3-verify", save(tmp_path, "list.json", status_list))
    assert code == 0, out  # the status list credential is itself signed and verifiable


def _resolve_did_web(fetch, issuer: Issuer, kid: str) -> Ed25519PublicKey:
    """The key as a stranger finds it: the served DID document, not our key files."""
    doc = json.loads(fetch(issuer.config.bridge.public_url + "/.well-known/did.json")[1])
    method = next(m for m in doc["verificationMethod"] if m["id"] == kid)
    raw = base58.b58decode(method["publicKeyMultibase"][1:])
    assert raw[:2] == b"\xed\x01"
    return Ed25519PublicKey.from_public_bytes(raw[2:])


def test_vc_jwt_verifies_with_pyjwt_against_the_served_did_document(served, fetch) -> None:
    award = served.award(expires=timedelta(days=30))
    token = fetch(served.issuer.urls.credential_jwt(award.id))[1].decode()
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "EdDSA" and header["kid"].startswith(served.issuer.did())
    key = _resolve_did_web(fetch, served.issuer, header["kid"])
    claims = jwt.decode(token, key, algorithms=["EdDSA"], options={"require": ["iss", "nbf", "jti"]})
    assert claims["iss"] == served.issuer.did() == claims["vc"]["issuer"]["id"]
    assert claims["jti"] == served.issuer.urls.credential(award.id)
    assert "OpenBadgeCredential" in claims["vc"]["type"] and "proof" not in claims["vc"]
    head, body, sig = token.split(".")
    forged = json.loads(base64.urlsafe_b64decode(body + "=="))
    forged["vc"]["name"] = "Expert SNT"
    forged_body = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode().rstrip("=")
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(f"{head}.{forged_body}.{sig}", key, algorithms=["EdDSA"])


def test_expired_vc_jwt_is_refused(served, fetch) -> None:
    award = served.award(issued=datetime.now(UTC).replace(microsecond=0) - timedelta(days=400),
                         expires=timedelta(days=365))
    token = fetch(served.issuer.urls.credential_jwt(award.id))[1].decode()
    key = _resolve_did_web(fetch, served.issuer, jwt.get_unverified_header(token)["kid"])
    with pytest.raises(jwt.ExpiredSignatureError):
        jwt.decode(token, key, algorithms=["EdDSA"])


def test_texts_with_line_breaks_tabs_and_control_characters_still_verify(kit, served, tmp_path) -> None:
    """Canonical N-Quads escape them as RDFC-1.0 says (\\b, \\f, \\u0001…), as both verifiers'
    rdf-canonize does: a criteria text pasted with odd characters still verifies."""
    from tests.issuing.conftest import DEFINITION

    odd = {**DEFINITION, "criteria": {"fr": "Ligne 1\nLigne\t2 « x » \x08\x0c\x01\x7f \\ fin",
                                      "en": "Line"}}
    served.store.awards.publish_badge("snt-mediator", "v2", odd,
                                      served.store.awards.badge("snt-mediator").image, "image/png")
    cred = served.issuer.ob3_credential(served.award())
    assert "\x01" in cred["credentialSubject"]["achievement"]["criteria"]["narrative"]
    for tool in ("ob3-verify", "ob3-verify-dcc"):
        code, out = kit.run(tool, save(tmp_path, f"{tool}.json", cred))
        assert code == 0, out
