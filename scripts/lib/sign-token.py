"""Signs an access token with the newest key of a keys folder, as authd would, for checks that need
a token authd would not issue now (one that expired). Needs PyJWT (scripts/test's venv).
Usage: sign-token.py KEYS_DIR USER_ID --expired-since SECONDS [--issuer I] [--audience A]"""
import argparse
import os
import time
import uuid

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

parser = argparse.ArgumentParser()
parser.add_argument("keys")
parser.add_argument("user_id")
parser.add_argument("--expired-since", type=int, required=True)
parser.add_argument("--issuer", default="skillup")
parser.add_argument("--audience", default="skillup-api")
arguments = parser.parse_args()

newest = max((os.path.join(arguments.keys, name) for name in os.listdir(arguments.keys) if name.endswith(".pem")), key=os.path.getmtime)
with open(newest, "rb") as file:
    key = load_pem_private_key(file.read(), password=None)
expires = int(time.time()) - arguments.expired_since
claims = {
    "iss": arguments.issuer, "aud": arguments.audience, "sub": arguments.user_id, "sid": str(uuid.uuid4()), "jti": str(uuid.uuid4()),
    "iat": expires - 900, "nbf": expires - 900, "exp": expires, "scope": "profile",
}
algorithm = "EdDSA" if isinstance(key, Ed25519PrivateKey) else "ES256"
print(jwt.encode(claims, key, algorithm=algorithm, headers={"kid": os.path.basename(newest)[:-4]}))
