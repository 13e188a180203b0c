"""HTTP digest authentication as SIP uses it (RFC 3261 §22, RFC 2617, RFC 8760 for SHA-256): the Authorization
header that answers a registrar's 401 (or a proxy's 407) challenge."""

from __future__ import annotations

import hashlib
import secrets

from simkeep.voice.sip.message import split_list

ALGORITHMS = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}


class Unsupported(ValueError):
    """A challenge in a scheme or algorithm we do not speak."""


def challenge(header: str) -> dict[str, str]:
    """The parameters of `Digest realm="...", nonce="...", qop="auth", algorithm=MD5`."""
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != "digest":
        raise Unsupported(f"authentication scheme {scheme}")
    params = {}
    for item in split_list(rest):
        key, _, value = item.partition("=")
        params[key.strip().lower()] = value.strip().strip('"')
    return params


def authorization(header: str, *, method: str, uri: str, user: str, password: str, nc: int = 1,
                  cnonce: str | None = None) -> str:
    """The Authorization value answering the challenge `header` (qop=auth when offered, else RFC 2069 style)."""
    params = challenge(header)
    algorithm = params.get("algorithm", "MD5").upper()
    if algorithm not in ALGORITHMS:
        raise Unsupported(f"digest algorithm {algorithm}")

    def h(text: str) -> str:
        return ALGORITHMS[algorithm](text.encode()).hexdigest()

    realm, nonce = params.get("realm", ""), params.get("nonce", "")
    ha1, ha2 = h(f"{user}:{realm}:{password}"), h(f"{method}:{uri}")
    fields = [f'username="{user}"', f'realm="{realm}"', f'nonce="{nonce}"', f'uri="{uri}"',
              f"algorithm={algorithm}"]
    qops = [q.strip() for q in params.get("qop", "").split(",")]
    if "auth" in qops:
        cnonce = cnonce or secrets.token_hex(8)
        count = f"{nc:08x}"
        fields += ["qop=auth", f'cnonce="{cnonce}"', f"nc={count}"]
        fields.insert(4, f'response="{h(f"{ha1}:{nonce}:{count}:{cnonce}:auth:{ha2}")}"')
    else:
        fields.insert(4, f'response="{h(f"{ha1}:{nonce}:{ha2}")}"')
    if "opaque" in params:
        fields.append(f'opaque="{params["opaque"]}"')
    return "Digest " + ", ".join(fields)
