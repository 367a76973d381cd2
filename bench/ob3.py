"""Open Badges 3.0 signing per core: eddsa-rdfc-2022 credentials and VC-JWTs of new awards,
beside the plain way of the same work measured in the same run. Prints one JSON object.

- eddsa-rdfc-2022: the issuer's path (credential built from per-badge parts, canonicalised by
  the shape template and pyoxigraph, Ed25519-signed) beside pyld's own RDFC-1.0
  (`jsonld.normalize`) of the same credential, signed alike; and beside the floor (the two
  SHA-256 and the signature alone, the canonical form given).
- VC-JWT: the issuer's whole path (credential built from per-badge parts, signed), and its
  signing alone beside `jwt.encode` (PyJWT) of the same claims with the same key.

Rates are per CPU second of this process (one thread: per core), medians of `--repeats`.

    python bench/ob3.py [--awards 600] [--repeats 3]
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
from datetime import datetime
from pathlib import Path

import jwt
from _common import cpu, emit, make_awards, median, setup
from pyld import jsonld

from bridge.issuing import dataintegrity, ob3
from bridge.issuing.issuer import Issuer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--awards", type=int, default=600)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    n = args.awards
    with tempfile.TemporaryDirectory() as tmp:
        config, store = setup(Path(tmp))
        awards = make_awards(store, n, email=False)
        issuer = Issuer(config, store, keep_badges=True)  # what a run's issuing uses
        key, method = issuer.key("ed25519"), issuer.did()
        private = key.private
        issuer.ob3_credential(awards[0])  # contexts, shapes and proof options warm
        issuer.ob3_jwt(awards[0])
        unsigned = [issuer.ob3_unsigned(a) for a in awards]
        options = {"algorithm": "URDNA2015", "format": "application/n-quads",
                   "documentLoader": dataintegrity.document_loader}
        nquads = [dataintegrity.canonicalize(u) for u in unsigned[:50]]

        def ours_rdfc() -> None:
            issuer._signed.cache_clear()  # every credential signed anew
            for a in awards:
                issuer.ob3_credential(a)

        def pyld_rdfc() -> None:
            for u in unsigned[:max(n // 10, 20)]:  # pyld is slow: a tenth of them
                canonical = jsonld.normalize(u, dict(options))
                private.sign(hashlib.sha256(canonical.encode()).digest() * 2)  # type: ignore[union-attr]

        def floor_rdfc() -> None:
            for i in range(n):
                text = nquads[i % len(nquads)]
                private.sign(hashlib.sha256(text.encode()).digest()  # type: ignore[union-attr]
                             + hashlib.sha256(text.encode()).digest())

        def ours_jwt() -> None:
            for a in awards:
                issuer.ob3_jwt(a)

        def ours_jwt_signing() -> None:
            for u in unsigned:
                ob3.vc_jwt(u, key, method)

        def pyjwt() -> None:
            for u in unsigned:
                claims = {"iss": u["issuer"]["id"], "jti": u["id"],
                          "nbf": int(datetime.fromisoformat(u["validFrom"]).timestamp()), "vc": u}
                jwt.encode(claims, private, algorithm="EdDSA",  # type: ignore[arg-type]
                           headers={"kid": method, "typ": "JWT"})

        runs: dict[str, list[float]] = {k: [] for k in ("ours_rdfc", "pyld_rdfc", "floor_rdfc",
                                                          "ours_jwt", "ours_jwt_signing", "pyjwt")}
        for _ in range(args.repeats):
            runs["ours_rdfc"].append(n / cpu(ours_rdfc))
            runs["pyld_rdfc"].append(max(n // 10, 20) / cpu(pyld_rdfc))
            runs["floor_rdfc"].append(n / cpu(floor_rdfc))
            runs["ours_jwt"].append(n / cpu(ours_jwt))
            runs["ours_jwt_signing"].append(n / cpu(ours_jwt_signing))
            runs["pyjwt"].append(n / cpu(pyjwt))
        store.close()
    rate = {k: median(v) for k, v in runs.items()}
    emit({"benchmark": "ob3", "awards": n, "repeats": args.repeats,
          "eddsa_rdfc_2022_per_core_second": round(rate["ours_rdfc"]),
          "baseline_pyld_rdfc_per_core_second": round(rate["pyld_rdfc"]),
          "eddsa_rdfc_2022_vs_pyld": round(rate["ours_rdfc"] / rate["pyld_rdfc"], 2),
          "floor_hash_and_sign_per_core_second": round(rate["floor_rdfc"]),
          "eddsa_rdfc_2022_vs_floor": round(rate["ours_rdfc"] / rate["floor_rdfc"], 3),
          "vc_jwt_per_core_second": round(rate["ours_jwt"]),
          "baseline_pyjwt_signing_only_per_core_second": round(rate["pyjwt"]),
          "vc_jwt_signing_only_per_core_second": round(rate["ours_jwt_signing"]),
          "vc_jwt_signing_only_vs_pyjwt": round(rate["ours_jwt_signing"] / rate["pyjwt"], 2)})


if __name__ == "__main__":
    main()
