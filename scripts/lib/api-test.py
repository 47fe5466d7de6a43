"""The API contract against the running stack, through nginx (scripts/api-test): the document that
nginx serves at /api/openapi.json is the repository's and a valid OpenAPI 3.1 document
(openapi-spec-validator), and schemathesis fuzzes every operation in it, seeded and bounded, as a
signed-in user and as an API key: no 5xx, every answer (status, content type, headers, body) as the
document says, bodies that break the schema refused, methods the document does not list refused,
protected routes refused without a credential. Prints each step as `api-test: ok` or `api-test: FAIL`.

  api-test.py GATEWAY_URL DOCUMENT REPORT_DIR
"""
import json
import os
import random
import ssl
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request

from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename

base, document_path, reports = sys.argv[1:4]
venv_bin = os.path.dirname(sys.executable)
failures = []
insecure = ssl.create_default_context()
insecure.check_hostname = False
insecure.verify_mode = ssl.CERT_NONE
# Examples per operation and the seed: the same run every time, short enough for the test command.
examples = int(os.environ.get("SKILLUP_API_TEST_EXAMPLES", "25"))
seed = int(os.environ.get("SKILLUP_API_TEST_SEED", "20261207"))


def check(name, ok, detail=""):
    print(f"api-test: {'ok  ' if ok else 'FAIL'} {name}" + ("" if ok else f": {detail}"), flush=True)
    if not ok:
        failures.append(name)


def call(method, path, body=None, token=None, form=None):
    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
    if form is not None:
        data, headers["Content-Type"] = form.encode(), "application/x-www-form-urlencoded"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30, context=insecure) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def required(what, answer, status):
    if answer[0] != status:
        raise SystemExit(f"api-test: cannot {what}: {answer[0]} {answer[2][:300]!r}")
    return json.loads(answer[2] or b"null")


# The document: served by nginx as it is in the repository, and valid OpenAPI 3.1.
status, headers, served = call("GET", "/api/openapi.json")
with open(document_path, "rb") as file:
    check("nginx serves the repository's document at /api/openapi.json", status == 200 and served == file.read(), f"{status}")
check("as JSON", headers.get("Content-Type", "").startswith("application/json"), headers.get("Content-Type"))
try:
    spec, _ = read_from_filename(document_path)
    validate(spec)
    check("openapi-spec-validator: a valid OpenAPI 3.1 document", spec["openapi"].startswith("3.1"), spec["openapi"])
except Exception as error:  # the validator's own errors name the place in the document
    check("openapi-spec-validator: a valid OpenAPI 3.1 document", False, str(error)[:2000])
    raise SystemExit(1)

# The callers: a user on the team plan (so that the plan's request budget leaves room for the
# fuzzing's writes), signed in, and an API key of theirs with every scope they hold. Ending
# sessions (one, the current, or all) gets a user of its own, so that the first user's token stays valid.
def sign_up():
    email = f"api-{random.SystemRandom().randint(10**8, 10**9)}@example.com"
    required("register", call("POST", "/auth/register", {"email": email, "password": password}), 201)
    return lambda: required("sign in", call("POST", "/auth/login", {"email": email, "password": password}), 200)["access_token"]


password = "an api test passphrase"
login = sign_up()
token = login()
checkout = required("start a checkout", call("POST", "/api/billing/checkout", {"plan": "team"}, token=token), 200)
query = urllib.parse.urlparse(checkout["checkout_url"]).query
required("pay the test checkout", call("POST", "/api/billing/test-pay", form=query), 200)
token = login()
scopes = required("read the account", call("GET", "/auth/me", token=token), 200)["scopes"]
key = required("make an API key", call("POST", "/auth/api-keys", {"password": password, "name": "api-test", "scopes": scopes}, token=token), 201)["key"]
leaving = sign_up()()

# What the checks take as right beyond schemathesis' defaults, each an answer RFC 9110 or 6585 gives:
# a valid If-Match naming a version that is no longer the document's is 412 (a stale write, not a
# bad request), and a missing If-Match is 428 Precondition Required.
checks = """[checks.positive_data_acceptance]
expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "412", "429"]

[checks.missing_required_header]
expected-statuses = ["400", "401", "403", "406", "415", "422", "428"]
"""


def schemathesis(name, scheme, credential, extra):
    """One seeded, bounded run of every operation (or those `extra` selects) with one credential."""
    config = os.path.join(reports, f"{name}.toml")
    with open(config, "w") as file:
        file.write(f"""[auth.openapi.{scheme}]
bearer = "{credential}"

{checks}
# The IANA time zone database is more than a schema lists: a zone the schema allows may be none.
[[operations]]
include-operation-id = "updateProfile"
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "400", "401", "403", "404", "409", "412", "429"]

# The event stream stays open: each case reads its first events, then lets go.
[[operations]]
include-operation-id = "streamEvents"
max-stream-events = 1
request-timeout = 3
""")
    command = [
        os.path.join(venv_bin, "schemathesis"), "--config-file", config, "run", document_path, "--url", base, "--tls-verify", "false",
        "--checks", "all", "--max-examples", str(examples), "--seed", str(seed), "--generation-database", "none", "--no-shrink",
        "--phases", "examples,coverage,fuzzing", "--workers", "1", "--request-timeout", "30", "--no-color",
        "--report", "junit", "--report-dir", os.path.join(reports, name), *extra,
    ]
    run = subprocess.run(command, capture_output=True, text=True, cwd=reports)  # its cache folder goes there too
    with open(os.path.join(reports, f"{name}.log"), "w") as file:
        file.write(run.stdout + run.stderr)
    summary = [line for line in run.stdout.splitlines() if line.strip()][-3:]
    check(f"schemathesis {name}: every operation conforms, no 5xx", run.returncode == 0,
          f"exit {run.returncode}, see {reports}/{name}.log: " + " | ".join(summary))


signing_out = ["logout", "logoutAll", "revokeSession"]
schemathesis("as-user", "bearer", token, [argument for name in signing_out for argument in ("--exclude-operation-id", name)])
schemathesis("signing-out", "bearer", leaving, [argument for name in signing_out for argument in ("--include-operation-id", name)])
# As an API key: the operations that take one (a key is refused where only a person may act).
with open(document_path) as file:
    paths = json.load(file)["paths"]
takes_key = sorted(
    operation["operationId"] for item in paths.values() for operation in item.values()
    if isinstance(operation, dict) and any("apiKey" in requirement for requirement in operation.get("security", []))
)
schemathesis("as-api-key", "apiKey", key, [argument for name in takes_key for argument in ("--include-operation-id", name)])
sys.exit(1 if failures else 0)
