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
import re
import ssl
import subprocess
import sys
import time
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


def required(what, send, status):
    """The JSON of `send()`'s answer, which must have `status`; a 429 (the sign-in endpoints' budget,
    which the checks before this one spend too) is waited out once."""
    answer = send()
    if answer[0] == 429:
        time.sleep(int(answer[1].get("Retry-After", "2")))
        answer = send()
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
# fuzzing's writes) and an API key of theirs with every scope they hold. Ending sessions (one, the
# current, or all) gets a user of its own, so that the first user's sessions stay valid.
password = "an api test passphrase"


def sign_up():
    """A new user's sign-in: each call is a new session, and its access token."""
    email = f"api-{random.SystemRandom().randint(10**8, 10**9)}@example.com"
    required("register", lambda: call("POST", "/auth/register", {"email": email, "password": password}), 201)
    return lambda: required("sign in", lambda: call("POST", "/auth/login", {"email": email, "password": password}), 200)["access_token"]


login = sign_up()
token = login()
checkout = required("start a checkout", lambda: call("POST", "/api/billing/checkout", {"plan": "team"}, token=token), 200)
query = urllib.parse.urlparse(checkout["checkout_url"]).query
required("pay the test checkout", lambda: call("POST", "/api/billing/test-pay", form=query), 200)
token = login()
# Money on the user's own balance, for the developers' API (/v1) that the key's run fuzzes.
top_up = required("start a top-up", lambda: call("POST", "/api/billing/top-up", {"amount_cents": 10000}, token=token), 200)
required("pay the top-up", lambda: call("POST", "/api/billing/test-pay", form=urllib.parse.urlparse(top_up["checkout_url"]).query), 200)
scopes = required("read the account", lambda: call("GET", "/auth/me", token=token), 200)["scopes"]
key = required(
    "make an API key", lambda: call("POST", "/auth/api-keys", {"password": password, "name": "api-test", "scopes": scopes}, token=token), 201)["key"]
leaving = sign_up()

# What the checks take as right beyond schemathesis' defaults. A schema-valid request may still be
# refused for the state it meets, never for the run's credential (no 401): 403 (the user is no
# admin; a checkout token or password it cannot know), 404 (an id that is none of the user's), 409
# (a conflict with the state), 412 (an If-Match naming a version the document has left, RFC 9110)
# and 429 (a budget spent; quotas are part of the product). Beyond that, by operation:
# - those that take no credential answer 401 for what the request itself carries (a password, a
#   refresh token, a signature it cannot know), and a run that ends sessions meets its own revoked
#   token: 401 is right there;
# - a few rules are more than a schema says, and their 400 is right: a common password or one
#   character repeated (register, a new password), Telegram's signature over init_data, a refresh
#   token in the body or the cookie, one of the two, a completion's max_tokens above its model's,
#   a usage report's days (a real day of the calendar, not after `to`, at most 366 of them), and an
#   invitation's address (as registration's: a dotted domain that neither starts nor ends with a dot).
# A missing required header may also be 428 Precondition Required (a missing If-Match, RFC 6585) or
# meet a spent budget (429). An answer takes at most 10 s, a generation's 65 s (aid's engine budget
# of 50 s and nginx's 60 s for aid, whichever engine writes it, the local model's queue included).
accepted = ["2xx", "3xx", "403", "404", "409", "412", "429"]
beyond_schema = {"register", "changePassword", "telegramSignIn", "linkTelegram", "refresh", "createChatCompletion", "getUsage", "inviteToTeam"}
with open(document_path) as file:
    paths = json.load(file)["paths"]
operations = [operation for item in paths.values() for operation in item.values() if isinstance(operation, dict)]
open_operations = {operation["operationId"] for operation in operations if operation.get("security") == []}
# The operations a person's session cannot call (the developers' API takes API keys only).
keys_only = sorted(operation["operationId"] for operation in operations
                   if operation.get("security") and not any("bearer" in requirement for requirement in operation["security"]))


def statuses(names, extra):
    """A [[operations]] entry that takes `extra` statuses as right for schema-valid requests."""
    return f"""
[[operations]]
include-operation-id = {json.dumps(sorted(names))}
checks.positive_data_acceptance.expected-statuses = {json.dumps(accepted + extra)}
"""


def schemathesis(name, scheme, credential, extra, refused=()):
    """One seeded, bounded run of every operation (or those `extra` selects) with one credential,
    which reaches schemathesis in its environment, not in a file. Each operation meets one entry of
    expected statuses at most: an entry's list replaces the run's."""
    revoked = list(refused)
    config = os.path.join(reports, f"{name}.toml")
    with open(config, "w") as file:
        file.write(f"""[auth.openapi.{scheme}]
bearer = "${{SKILLUP_API_TEST_CREDENTIAL}}"

[checks]
max_response_time = 10

[checks.positive_data_acceptance]
expected-statuses = {json.dumps(accepted + revoked)}

[checks.missing_required_header]
expected-statuses = ["400", "401", "403", "406", "415", "422", "428", "429"]
{statuses(open_operations - beyond_schema, ["401"])}{statuses(open_operations & beyond_schema, ["400", "401"])}\
{statuses(beyond_schema - open_operations, ["400"] + revoked)}
[[operations]]
include-operation-id = ["generate", "saveGeneration"]
checks.max_response_time = 65

# The event stream stays open: each case reads its first events, then lets go.
[[operations]]
include-operation-id = "streamEvents"
max-stream-events = 1
request-timeout = 3
""")
    # A request may wait 65 s, as a generation may take.
    command = [
        os.path.join(venv_bin, "schemathesis"), "--config-file", config, "run", document_path, "--url", base, "--tls-verify", "false",
        "--checks", "all", "--max-examples", str(examples), "--seed", str(seed), "--generation-database", "none", "--no-shrink",
        "--phases", "examples,coverage,fuzzing", "--workers", "1", "--request-timeout", "65", "--no-color",
        "--report", "junit", "--report-dir", os.path.join(reports, name), *extra,
    ]
    environment = {**os.environ, "SKILLUP_API_TEST_CREDENTIAL": credential}
    try:
        # Its cache folder goes into the reports too. The limit is about five times a run's length.
        run = subprocess.run(command, capture_output=True, text=True, cwd=reports, env=environment, timeout=600 * max(1, examples // 25))
        output, code = run.stdout + run.stderr, run.returncode
    except subprocess.TimeoutExpired as timeout:
        text = [part.decode(errors="replace") if isinstance(part, bytes) else part or "" for part in (timeout.stdout, timeout.stderr)]
        output, code = "".join(text) + f"\nstopped after {timeout.timeout} s", "timeout"
    with open(os.path.join(reports, f"{name}.log"), "w") as file:
        file.write(output)
    summary = [line for line in output.splitlines() if line.strip()][-3:]
    check(f"schemathesis {name}: every operation conforms, no 5xx", code == 0, f"exit {code}, see {reports}/{name}.log: " + " | ".join(summary))
    if code != 0:
        # What failed, in the test command's own output: the reports go with its temporary folder.
        found = re.search(r"^=+ (FAILURES|ERRORS) =+$.*?(?=^=+ (WARNINGS|SUMMARY) =+$)", output, re.M | re.S)
        print(found.group(0)[:6000] if found else output[-6000:], flush=True)


signing_out = ["logout", "logoutAll", "revokeSession"]
session = login()
schemathesis("as-user", "bearer", session, [argument for name in signing_out + keys_only for argument in ("--exclude-operation-id", name)])
# Nothing the user's run did ended its session: its answers were the signed-in user's.
check("the user's session outlived the run", required("read the account", lambda: call("GET", "/auth/me", token=session), 200) is not None)
schemathesis("signing-out", "bearer", leaving(), [argument for name in signing_out for argument in ("--include-operation-id", name)], refused=["401"])
# As an API key: the operations that take one (a key is refused where only a person may act).
takes_key = sorted(operation["operationId"] for operation in operations if any("apiKey" in requirement for requirement in operation.get("security", [])))
schemathesis("as-api-key", "apiKey", key, [argument for name in takes_key for argument in ("--include-operation-id", name)])
sys.exit(1 if failures else 0)
