"""OB 3.0 credentials served by the real web app, checked by independent verifiers.

verifier-core (DCC) and the JSON Schema see the credential exactly as issued; Digital Bazaar's
verifier is given no status checker by the kit, so it sees the same credential signed without
credentialStatus (see test_digital_bazaar_*). VC-JWT is checked with PyJWT (PyPI).
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

from bridge.issuing import bake
from bridge.issuing.issuer import Issuer

pytestmark = pytest.mark.validators


def save(tmp_path: Path, name: str, data: bytes | dict) -> str:
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else json.dumps(data).encode())
    return str(path)


@pytest.mark.parametrize("path", ["", "/badge.png", "/badge.svg"])
def test_issued_credential_passes_verifier_core(kit, served, fetch, tmp_path, path) -> None:
    award = served.award()
    status, body = fetch(served.issuer.urls.credential(award["id"]) + path)
    assert status == 200
    code, out = kit.run("ob3-verify-dcc", save(tmp_path, f"c{path.replace('/', '-')}", body))
    assert code == 0 and "SIGNATURE VALID, NO FAILED STEP" in out, out


def test_issued_credential_matches_the_ob3_json_schema(kit, served, fetch, tmp_path) -> None:
    award = served.award(expires=timedelta(days=365))
    body = fetch(served.issuer.urls.credential(award["id"]))[1]
    doc = json.loads(body)
    assert isinstance(doc["proof"], list) and len(doc["proof"]) == 1
    assert doc["credentialStatus"]["type"] == "BitstringStatusListEntry"
    code, out = kit.run("ob3-schema", save(tmp_path, "c.json", body))
    assert code == 0 and "SCHEMA VALID" in out, out


@pytest.mark.parametrize("issuer_kind", ["did:web", "did:key"])
def test_digital_bazaar_verifies_our_signature(kit, make_world, port, tmp_path, issuer_kind) -> None:
    """The kit's ob3-verify passes no `checkStatus`, and @digitalbazaar/vc refuses any credential
    carrying credentialStatus for that reason alone ("A checkStatus function must be given").
    So it checks the same award signed by the same code without the status entry; the real
    credential's status is checked by verifier-core above and below."""
    from bridge.web.server import BackgroundServer

    world = make_world(ob3_issuer=issuer_kind)
    award = world.award()
    with_status = world.issuer.ob3_credential(award)
    code, out = kit.run("ob3-verify", save(tmp_path, "status.json", with_status))
    assert code == 1 and "checkStatus" in out, "ob3-verify can check status now: use the real credential"
    cred = world.issuer.ob3_credential(award, with_status=False)
    server = BackgroundServer(world.config, world.store, "127.0.0.1", port).start()
    try:
        for name, data in (("c.json", json.dumps(cred).encode()),
                           ("c.png", world.issuer.baked(award, "ob3.png")),
                           ("c.svg", world.issuer.baked(award, "ob3.svg"))):
            if name != "c.json":  # the baked images carry the real credential: re-bake without status
                badge = world.store.badge(award["badge_id"])
                data = (bake.bake_ob3_png(badge["image"], cred) if name == "c.png"
                        else bake.bake_ob3_svg(bake.as_svg(badge["image"], "image/png"), cred))
            code, out = kit.run("ob3-verify", save(tmp_path, name, data))
            assert code == 0 and out.strip().endswith("CREDENTIAL VERIFIED"), out
    finally:
        server.stop()


@pytest.mark.parametrize("field", ["name", "issuer", "recipient", "proof"])
def test_tampered_credentials_fail_both_verifiers(kit, served, tmp_path, field) -> None:
    award = served.award()
    for with_status, tool in ((True, "ob3-verify-dcc"), (False, "ob3-verify")):
        cred = served.issuer.ob3_credential(award, with_status=with_status)
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
    code, out = kit.run("ob3-verify", save(tmp_path, "e.json",
                                           served.issuer.ob3_credential(award, with_status=False)))
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
    served.store.revoke(award["id"], "Fraude")
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
    token = fetch(served.issuer.urls.credential_jwt(award["id"]))[1].decode()
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "EdDSA" and header["kid"].startswith(served.issuer.did())
    key = _resolve_did_web(fetch, served.issuer, header["kid"])
    claims = jwt.decode(token, key, algorithms=["EdDSA"], options={"require": ["iss", "nbf", "jti"]})
    assert claims["iss"] == served.issuer.did() == claims["vc"]["issuer"]["id"]
    assert claims["jti"] == served.issuer.urls.credential(award["id"])
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
    token = fetch(served.issuer.urls.credential_jwt(award["id"]))[1].decode()
    key = _resolve_did_web(fetch, served.issuer, jwt.get_unverified_header(token)["kid"])
    with pytest.raises(jwt.ExpiredSignatureError):
        jwt.decode(token, key, algorithms=["EdDSA"])
