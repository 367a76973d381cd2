"""Signing keys: owner-only files, rotation keeps old keys published and old badges verifying."""

from __future__ import annotations

import stat
from pathlib import Path

from click.testing import CliRunner

from bridge.issuing import dataintegrity
from bridge.issuing.issuer import Issuer
from bridge.issuing.keys import generate_key, load_keyring
from cli.keys import keys


def test_generate_writes_owner_only_files_and_never_prints_them(world, tmp_path: Path) -> None:
    folder = world.config.bridge.keys_path
    result = CliRunner().invoke(keys, ["generate", "--config", str(world.config.file)])
    assert result.exit_code == 0, result.output
    # The fixture generated both kinds; the config's default_language (fr) is spoken.
    assert "rsa\u00a0: déjà présente" in result.output
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for pem in folder.glob("*.pem"):
        assert stat.S_IMODE(pem.stat().st_mode) == 0o600
        assert "PRIVATE KEY" in pem.read_text()
        assert pem.read_text().splitlines()[1] not in result.output
    assert {k.kind for k in load_keyring(folder).keys} == {"rsa", "ed25519"}


def test_rotate_signs_with_the_new_key_and_old_badges_still_verify(world) -> None:
    award = world.award()
    before = world.issuer.ob3_credential(award)
    old_rsa = world.issuer.key("rsa")
    result = CliRunner().invoke(keys, ["rotate", "--config", str(world.config.file)])
    assert result.exit_code == 0, result.output
    issuer = Issuer(world.config, world.store)
    after = issuer.ob3_credential(award)
    assert after["proof"][0]["verificationMethod"] != before["proof"][0]["verificationMethod"]
    # Both keys are in the DID document, and each credential verifies with the key it names.
    methods = {m["id"]: m for m in issuer.did_document()["verificationMethod"]}
    assert before["proof"][0]["verificationMethod"] in methods
    for cred in (before, after):
        kid = cred["proof"][0]["verificationMethod"].rsplit("#key-", 1)[1]
        key = load_keyring(world.config.bridge.keys_path).get(kid)
        assert key is not None
        assert dataintegrity.verify(cred, key.private.public_key())
    # OB 2.0 allows one publicKey per Issuer: the new one; the old key stays served at its URL.
    assert issuer.key("rsa").kid != old_rsa.kid
    assert issuer.ob2_issuer()["publicKey"] == issuer.urls.ob2_key(issuer.key("rsa").kid)
    assert [k.kid for k in issuer.keys("rsa")] == [old_rsa.kid, issuer.key("rsa").kid]


def test_a_tampered_credential_fails_our_own_check(world) -> None:
    cred = world.issuer.ob3_credential(world.award())
    cred["credentialSubject"]["achievement"]["name"] = "Something else"
    assert not dataintegrity.verify(cred, world.issuer.key("ed25519").private.public_key())


def test_a_vc_jwt_is_the_one_pyjwt_would_sign(tmp_path) -> None:
    """Signed directly with the Ed25519 key: the same bytes as PyJWT's, which verifies it."""
    import jwt

    from bridge.issuing.ob3 import vc_jwt

    key = generate_key(tmp_path / "keys", "ed25519")
    unsigned = {"@context": ["https://www.w3.org/ns/credentials/v2"], "id": "https://b.example/c/1",
                "issuer": {"id": "did:web:b.example", "name": "Tiers-lieu « é »"},
                "validFrom": "2026-03-01T09:00:00Z", "validUntil": "2027-03-01T09:00:00Z",
                "name": "Médiateur <SNT>", "credentialSubject": {"achievement": {"name": "ü"}}}
    method = "did:web:b.example#key-1"
    token = vc_jwt(unsigned, key, method)
    claims = {"iss": "did:web:b.example", "jti": "https://b.example/c/1", "nbf": 1772355600,
              "vc": unsigned, "exp": 1803891600}
    assert token == jwt.encode(claims, key.private, algorithm="EdDSA",
                               headers={"kid": method, "typ": "JWT"})
    assert jwt.decode(token, key.private.public_key(), algorithms=["EdDSA"],
                      options={"verify_exp": False, "verify_nbf": False})["vc"] == unsigned
    assert jwt.get_unverified_header(token) == {"alg": "EdDSA", "kid": method, "typ": "JWT"}


def test_a_key_added_to_the_folder_is_seen_at_once(tmp_path) -> None:
    folder = tmp_path / "keys"
    first = generate_key(folder, "ed25519")
    assert load_keyring(folder).current("ed25519").kid == first.kid
    second = generate_key(folder, "ed25519")
    assert {k.kid for k in load_keyring(folder).of("ed25519")} == {first.kid, second.kid}
