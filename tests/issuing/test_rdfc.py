"""Canonical N-Quads from a template per document shape equal those of a full conversion.

The reference is pyld's own URDNA2015 (`jsonld.normalize`), a separate implementation from the
template path (pyld only expands there, pyoxigraph canonicalises), for every shape and for
values a learner or an administrator can put in a badge (quotes, line breaks, accents, emoji).
Control characters are escaped as RDFC-1.0 says, which pyld does not do: those are checked
against the independent verifiers in test_ob3_validators.py.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pyld import jsonld

from bridge.issuing.dataintegrity import document_loader
from bridge.issuing.ob3 import CONTEXT
from bridge.issuing.rdfc import Canonicalizer


def credential(**values: Any) -> dict[str, Any]:
    v = {"id": "https://b.example.org/ob3/credentials/1", "name": "Médiateur SNT",
         "narrative": "Présent·e à « la rencontre »", "hash": "sha256$" + "a" * 64,
         "salt": "0123", "valid_from": "2026-11-29T10:00:00Z", "index": "7", **values}
    doc: dict[str, Any] = {
        "@context": CONTEXT, "id": v["id"], "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": "did:web:b.example.org", "type": ["Profile"], "name": "Tiers-lieu",
                   "url": "https://example.org", "email": "badges@example.org"},
        "validFrom": v["valid_from"], "name": v["name"],
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "identifier": [{"type": "IdentityObject", "identityHash": v["hash"],
                            "identityType": "emailAddress", "hashed": True, "salt": v["salt"]}],
            "achievement": {"id": "https://b.example.org/ob3/achievements/snt", "type": ["Achievement"],
                            "name": v["name"], "description": "Deux rencontres",
                            "criteria": {"narrative": v["narrative"]}, "inLanguage": "fr"}},
        "credentialStatus": {"id": f"https://b.example.org/ob3/status/1#{v['index']}",
                             "type": "BitstringStatusListEntry", "statusPurpose": "revocation",
                             "statusListIndex": v["index"],
                             "statusListCredential": "https://b.example.org/ob3/status/1"},
        "evidence": [{"type": ["Evidence"], "id": v["id"] + "#evidence-1", "name": "SNT",
                      "narrative": v["narrative"]}],
    }
    return doc


def reference(doc: dict[str, Any]) -> str:
    return str(jsonld.normalize(doc, {"algorithm": "URDNA2015", "format": "application/n-quads",
                                      "documentLoader": document_loader}))


@pytest.fixture(scope="module")
def canon() -> Canonicalizer:
    return Canonicalizer(document_loader)


def test_the_second_document_of_a_shape_comes_from_the_template_and_matches(canon) -> None:
    first, second = credential(), credential(id="https://b.example.org/ob3/credentials/2",
                                             salt="9999", index="8", name="Autre « badge »")
    assert canon.canonicalize(first) == reference(first)
    assert len(canon._templates) == 1 and next(iter(canon._templates.values())) is not None
    assert canon.canonicalize(second) == reference(second)
    assert canon.canonicalize(second) != canon.canonicalize(first)


def test_each_shape_has_its_template(canon) -> None:
    without_evidence = credential()
    del without_evidence["evidence"]
    two_pieces = credential()
    two_pieces["evidence"].append({"type": ["Evidence"], "id": "https://b.example.org/e2",
                                   "name": "Rencontre 2", "narrative": "Présente"})
    expiring = {**credential(), "validUntil": "2027-11-29T10:00:00Z"}
    for doc in (without_evidence, two_pieces, expiring):
        assert canon.canonicalize(doc) == reference(doc)
        again = copy.deepcopy(doc)
        again["credentialSubject"]["identifier"][0]["salt"] = "fresh"
        assert canon.canonicalize(again) == reference(again)


def test_a_value_that_is_not_an_iri_where_one_is_expected_takes_the_slow_path(canon) -> None:
    doc = credential(id="https://b.example.org/a b")  # a space cannot sit in an IRI
    canon.canonicalize(credential())
    assert canon.canonicalize(doc) == canonical_of_full(canon, doc)


def canonical_of_full(canon: Canonicalizer, doc: dict[str, Any]) -> str:
    from bridge.issuing.rdfc import _canonical

    return _canonical(canon._to_rdf(doc))


def test_a_shape_whose_template_disagrees_is_never_templated() -> None:
    """`proofPurpose` is @vocab-typed: its value is part of the shape, so two documents that
    differ there are two shapes, and each is exact."""
    canon = Canonicalizer(document_loader)
    base = {"@context": "https://www.w3.org/ns/credentials/v2", "type": "DataIntegrityProof",
            "cryptosuite": "eddsa-rdfc-2022", "created": "2026-01-01T00:00:00Z",
            "verificationMethod": "did:key:z6Mk#z6Mk"}
    for purpose in ("assertionMethod", "authentication"):
        doc = {**base, "proofPurpose": purpose}
        assert canon.canonicalize(doc) == reference(doc)
    assert len(canon._templates) == 2


printable = st.text(st.characters(blacklist_categories=["Cc", "Cs"]), max_size=40)


@given(name=printable, narrative=printable, salt=st.text("0123456789abcdef", min_size=1, max_size=32))
def test_any_printable_text_gives_what_pyld_gives(canon, name, narrative, salt) -> None:
    doc = credential(name=name, narrative=narrative + "\n" + name, salt=salt)
    assert canon.canonicalize(doc) == reference(doc)


def test_control_characters_are_escaped_as_rdfc_1_0_says(canon) -> None:
    doc = credential(narrative="a\bb\fc\x01d\x7fe\tf")
    line = next(q for q in canon.canonicalize(doc).splitlines() if "narrative" in q and "a\\b" in q)
    assert '"a\\bb\\fc\\u0001d\\u007Fe\\tf"' in line
    assert json.dumps(doc)  # still a JSON document; the verifiers check the signature
