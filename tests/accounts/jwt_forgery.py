"""Hand-made JWTs for attacks the server must refuse (PyJWT will not produce most of them)."""

import base64
import hashlib
import hmac
import json


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(payload: dict, *, alg: str, key: bytes = b"") -> str:
    header = _b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = _b64(json.dumps(payload).encode())
    signing_input = f"{header}.{body}"
    if alg == "none":
        return f"{signing_input}."
    if alg == "HS256":
        return f"{signing_input}.{_b64(hmac.new(key, signing_input.encode(), hashlib.sha256).digest())}"
    raise ValueError(alg)
