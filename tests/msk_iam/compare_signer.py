"""Compare tagstream's MSK IAM token with the one AWS's Python signer
(aws-msk-iam-sasl-signer-python) builds, byte for byte, for fixed
credentials, regions and times.

The signer reads the clock through botocore.auth.get_current_datetime; the
test replaces it with a fixed time, and gives the same time to the C side
(msk_iam_token, built with the library's token function). The signer
appends its own User-Agent; the C side is given the same one for the
comparison (tagstream sends tagstream/<version> in production; the
User-Agent is not part of the signature).

usage: python compare_signer.py MSK_IAM_TOKEN_BINARY
Exits 1 and prints both URLs when any case differs.
"""
import base64
import datetime
import subprocess
import sys
from urllib.parse import parse_qs, urlparse

import botocore.auth
from aws_msk_iam_sasl_signer import MSKAuthTokenProvider
from botocore.credentials import CredentialProvider, Credentials

CASES = [
    # name, region, epoch seconds, access key id, secret, session token
    ("long-term keys", "us-east-1", 1764489600,
     "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", None),
    ("task role with a session token", "eu-west-1", 1796083199,
     "ASIAQ3EGUTC7EXAMPLE1", "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
     "IQoJb3JpZ2luX2VjEJr//////////wEaCWV1LXdlc3QtMSJHMEUCIQD+example/token+with=="
     "/slashes+pluses+AND=equals/" + "A" * 700 + "=="),
    ("date boundary, other region", "ap-southeast-2", 1798761599,
     "ASIAZZZZZZZZEXAMPLE2", "a+b/c=d~e_f.g-h!*'()EXAMPLESECRET000000",
     "FwoGZXIvYXdzEBYaDEXAMPLE%20percent%and&amp;ampersands?="),
    ("leap day, no session token", "us-gov-west-1", 1835395200,
     "AKIA0123456789EXAMPL", "0123456789abcdefghijklmnopqrstuvwxyzABCD", None),
]


class Fixed(CredentialProvider):
    METHOD = "fixed"

    def __init__(self, akid, secret, token):
        super().__init__()
        self.creds = Credentials(akid, secret, token)

    def load(self):
        return self.creds


def python_token(region, epoch, akid, secret, token):
    when = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).replace(tzinfo=None)
    saved = botocore.auth.get_current_datetime
    botocore.auth.get_current_datetime = lambda *a, **k: when
    try:
        return MSKAuthTokenProvider.generate_auth_token_from_credentials_provider(
            region, Fixed(akid, secret, token))
    finally:
        botocore.auth.get_current_datetime = saved


def decode(tok):
    return base64.urlsafe_b64decode(tok + "=" * (-len(tok) % 4)).decode()


def main():
    tool = sys.argv[1]
    failed = 0
    for name, region, epoch, akid, secret, token in CASES:
        py_tok, py_exp = python_token(region, epoch, akid, secret, token)
        url = urlparse(decode(py_tok))
        agent = parse_qs(url.query)["User-Agent"][0]
        args = [tool, region, url.hostname, str(epoch), agent, akid, secret] + ([token] if token else [])
        out = subprocess.run(args, capture_output=True, text=True, check=True).stdout.split("\n")
        c_tok, c_exp = out[0], int(out[1])
        same = c_tok == py_tok and c_exp == py_exp
        sig = parse_qs(url.query)["X-Amz-Signature"][0]
        print(f"{'identical' if same else 'DIFFERENT'}: {name}: {region}, "
              f"{datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc):%Y-%m-%dT%H:%M:%SZ}, "
              f"{len(py_tok)} characters, signature {sig[:16]}..., expiry {py_exp} ms")
        if not same:
            failed += 1
            print(f"  python: {decode(py_tok)}  expires {py_exp}\n  C:      {decode(c_tok)}  expires {c_exp}")
    print(f"{len(CASES) - failed} of {len(CASES)} tokens byte-identical to {agent}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
