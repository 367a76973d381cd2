"""'Add to a wallet' (OpenID4VCI 1.0, pre-authorised code flow), behind `wallet_offers`: a client
written from the specification's sections walks the flow against the running app, from the
page's QR code to a credential the OB 3.0 verifiers accept. No independent wallet client installs
here, so these tests check the shapes the specification gives.
"""

from __future__ import annotations

import importlib.util
import json
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "issuing_fixtures", Path(__file__).parents[1] / "issuing" / "conftest.py")
assert _spec and _spec.loader
fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fixtures)
make_world, port, fetch, kit = fixtures.make_world, fixtures.port, fixtures.fetch, fixtures.kit

PRE_AUTH = "urn:ietf:params:oauth:grant-type:pre-authorized_code"


@pytest.fixture
def wallet_world(make_world, port):
    from bridge.web.server import BackgroundServer

    world = make_world(wallet_offers="true")
    server = BackgroundServer(world.config, world.store, "127.0.0.1", port).start()
    yield world
    server.stop()


def post(url: str, data: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers)) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def walk(world, award, fetch) -> tuple[dict, dict]:
    """What a wallet does after scanning the page's QR code: (the offer, the credential answer)."""
    page = fetch(world.issuer.urls.verify_page(award.id), "text/html")[1].decode()
    link = page.split('id="wallet-offer"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    # §4.1: openid-credential-offer:// with credential_offer_uri, answered as application/json.
    parts = urllib.parse.urlsplit(link)
    assert parts.scheme == "openid-credential-offer"
    offer_uri = urllib.parse.parse_qs(parts.query)["credential_offer_uri"][0]
    offer = json.loads(fetch(offer_uri)[1])
    # §12.2.2: the issuer's metadata at /.well-known/openid-credential-issuer; §12.3 / RFC 8414.
    meta = json.loads(fetch(offer["credential_issuer"] + "/.well-known/openid-credential-issuer")[1])
    server = json.loads(fetch(offer["credential_issuer"] + "/.well-known/oauth-authorization-server")[1])
    code = offer["grants"][PRE_AUTH]["pre-authorized_code"]
    # §6.1: the token request, form-encoded, with no client authentication.
    status, token = post(server["token_endpoint"], urllib.parse.urlencode(
        {"grant_type": PRE_AUTH, "pre-authorized_code": code}).encode(),
        {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 200 and token["token_type"] == "Bearer", token
    # §8.2: the credential request names a credential_configuration_id of the offer.
    status, answer = post(meta["credential_endpoint"], json.dumps(
        {"credential_configuration_id": offer["credential_configuration_ids"][0]}).encode(),
        {"Content-Type": "application/json", "Authorization": f"Bearer {token['access_token']}"})
    assert status == 200, answer
    return offer, answer


def test_a_wallet_gets_the_signed_credential_from_the_pages_qr_code(wallet_world, fetch, kit,
                                                                   tmp_path) -> None:
    award = wallet_world.award()
    offer, answer = walk(wallet_world, award, fetch)
    assert offer["credential_issuer"] == wallet_world.config.bridge.public_url
    assert set(offer["grants"][PRE_AUTH]) == {"pre-authorized_code"}  # no transaction code
    meta = json.loads(fetch(offer["credential_issuer"] + "/.well-known/openid-credential-issuer")[1])
    config = meta["credential_configurations_supported"][offer["credential_configuration_ids"][0]]
    assert config["format"] == "ldp_vc"
    assert "OpenBadgeCredential" in config["credential_definition"]["type"]
    credential = answer["credentials"][0]["credential"]  # §8.3 (1.0): a list of credentials
    assert credential == wallet_world.issuer.ob3_credential(award)
    (tmp_path / "w.json").write_text(json.dumps(credential))
    code, out = kit.run("ob3-verify", str(tmp_path / "w.json"))
    assert code == 0 and out.strip().endswith("CREDENTIAL VERIFIED"), out
    status, qr = fetch(wallet_world.issuer.urls.verify_page(award.id) + "/wallet-offer.svg")
    assert status == 200 and qr.startswith(b"<svg")


def test_codes_and_tokens_are_checked(wallet_world, fetch) -> None:
    award = wallet_world.award()
    base = wallet_world.config.bridge.public_url
    status, body = post(base + "/oid4vci/token", urllib.parse.urlencode(
        {"grant_type": PRE_AUTH, "pre-authorized_code": "forged"}).encode(),
        {"Content-Type": "application/x-www-form-urlencoded"})
    assert (status, body["error"]) == (400, "invalid_grant")
    status, body = post(base + "/oid4vci/credential", b'{"credential_configuration_id": '
                        b'"OpenBadgeCredential"}', {"Content-Type": "application/json",
                                                    "Authorization": "Bearer forged"})
    assert (status, body["error"]) == (401, "invalid_token")
    wallet_world.store.awards.revoke(award.id, "Erreur")
    assert fetch(wallet_world.issuer.urls.verify_page(award.id) + "/wallet-offer")[0] == 404


def test_without_the_setting_there_is_no_offer(make_world, port, fetch) -> None:
    from bridge.web.server import BackgroundServer

    world = make_world()
    award = world.award()
    server = BackgroundServer(world.config, world.store, "127.0.0.1", port).start()
    try:
        page = fetch(world.issuer.urls.verify_page(award.id), "text/html")[1]
        assert b"wallet-offer" not in page
        assert fetch(world.config.bridge.public_url + "/.well-known/openid-credential-issuer")[0] == 404
    finally:
        server.stop()
