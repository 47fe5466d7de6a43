"""The developers' API through nginx with OpenAI's own client library (scripts/v1-test): models,
completions whole and streamed, usage in every answer, failover, OpenAI's error classes for each
refusal, and 200 requests at once on a balance that covers 50: exactly 50 answered, the balance
never below zero, the ledger equal to the usage and to the usage report (JSON and CSV); then a
team's roles, each allowed and refused what it should, as sessions naming the team (X-Team) and as
the team's keys. Prints each check as `v1-test: ok` or `v1-test: FAIL`.

  v1-test.py GATEWAY_URL CA_FILE PROVIDER_URL PSQL_ARGS...
"""
import asyncio
import json
import random
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import openai

base, ca_file, provider = sys.argv[1:4]
psql = sys.argv[4:]
failures = []
tls = ssl.create_default_context(cafile=ca_file)


def check(name, ok, detail=""):
    print(f"v1-test: {'ok  ' if ok else 'FAIL'} {name}" + ("" if ok else f": {detail}"), flush=True)
    if not ok:
        failures.append(name)


def call(method, path, body=None, token=None, form=None, url=None, team=None):
    headers = {"Accept": "application/json"}
    if team:
        headers["X-Team"] = team
    data = None
    if body is not None:
        data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
    if form is not None:
        data, headers["Content-Type"] = form.encode(), "application/x-www-form-urlencoded"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request((url or base) + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30, context=tls) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def required(what, send, status):
    """The JSON of `send()`'s answer, which must have `status`; the sign-in endpoints' per-address
    budget (30 a minute, which the stack's other checks spend too) is waited out."""
    answer = send()
    for _ in range(30):
        if answer[0] != 429:
            break
        time.sleep(2)
        answer = send()
    if answer[0] != status:
        raise SystemExit(f"v1-test: cannot {what}: {answer[0]} {answer[1]!r:.300}")
    return answer[1]


def account():
    """A new user: their email, password and access token."""
    email, password = f"v1-{random.SystemRandom().randint(10**8, 10**9)}@example.com", "a v1 test passphrase"
    required("register", lambda: call("POST", "/auth/register", {"email": email, "password": password}), 201)
    token = required("sign in", lambda: call("POST", "/auth/login", {"email": email, "password": password}), 200)["access_token"]
    return email, password, token


def top_up(token, cents, team=None):
    """Pays a top-up of the caller's team (or the team named) through the test checkout."""
    url = required("start a top-up", lambda: call("POST", "/api/billing/top-up", {"amount_cents": cents}, token=token, team=team), 200)["checkout_url"]
    required("pay the top-up", lambda: call("POST", "/api/billing/test-pay", form=urllib.parse.urlparse(url).query), 200)


def team(top_up_cents):
    """A new user's access token and an API key with the inference scope (and one without), their
    balance topped up through the test checkout."""
    _, password, token = account()
    keys = [
        required("make an API key", lambda: call("POST", "/auth/api-keys", {"password": password, "name": name, "scopes": scopes}, token=token), 201)["key"]
        for name, scopes in (("v1", ["inference"]), ("bot", ["generate"]))
    ]
    if top_up_cents:
        top_up(token, top_up_cents)
    return token, keys[0], keys[1]


def client(key):
    return openai.OpenAI(base_url=base + "/v1", api_key=key, max_retries=0, http_client=openai.DefaultHttpx2Client(verify=tls))


def refused(call_it):
    try:
        call_it()
    except openai.APIStatusError as error:
        return error
    return None


def balance(token, team=None):
    return required("read the balance", lambda: call("GET", "/api/billing/balance", token=token, team=team), 200)


def settled_balance(token, team=None):
    """The balance once nothing is held any more: settlements are told after the answers (10 s at most)."""
    for _ in range(100):
        now = balance(token, team)
        if now["reserved_micros"] == 0:
            break
        time.sleep(0.1)
    return now


# Before any money: the key is refused for its balance, in OpenAI's words, and nothing runs.
token, key, bot_key = team(0)
poor = refused(lambda: client(key).chat.completions.create(model="echo", messages=[{"role": "user", "content": "hi"}]))
check("an empty balance: RateLimitError insufficient_quota", isinstance(poor, openai.RateLimitError) and poor.code == "insufficient_quota", repr(poor))
token, key, bot_key = team(100)
ai = client(key)

models = [model.id for model in ai.models.list()]
check("models.list names the catalogue's models", {"skillup-echo", "echo", "skillup-fill"} <= set(models), models)
check("models.retrieve, an id with a slash too", ai.models.retrieve("echo").id == "echo" and ai.models.retrieve("skillup/echo").id == "skillup/echo")

completion = ai.chat.completions.create(model="echo", messages=[{"role": "user", "content": "rivers run to the sea"}], max_tokens=20)
check("a completion", completion.choices[0].message.content == "You said: rivers run to the sea", completion.model_dump_json()[:300])
check("with its usage", completion.usage is not None and completion.usage.completion_tokens == 7, completion.usage)

chunks = list(ai.chat.completions.create(model="echo", messages=[{"role": "user", "content": "streams too"}], stream=True))
text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
check("a stream, chunk by chunk", text == "You said: streams too" and len(chunks) >= 4, text)
check("every chunk has its choice; the finish chunk carries the usage", chunks[-1].usage is not None and all(chunk.choices for chunk in chunks),
      chunks[-1].model_dump_json()[:300])
asked = list(ai.chat.completions.create(model="echo", messages=[{"role": "user", "content": "usage please"}], stream=True,
                                        stream_options={"include_usage": True}))
check("stream_options.include_usage: a last chunk with the usage and no choice", not asked[-1].choices and asked[-1].usage.completion_tokens == 4,
      asked[-1].model_dump_json()[:300])

before = required("read the provider's calls", lambda: call("GET", "/test/calls", url=provider), 200)
failover = ai.chat.completions.create(model="skillup-failover", messages=[{"role": "user", "content": "anyone there"}], max_tokens=20)
after = required("read the provider's calls", lambda: call("GET", "/test/calls", url=provider), 200)
check("a provider failing before its first token falls over to the next", failover.choices[0].message.content == "You said: anyone there"
      and after[len(before):][-2:] == ["unwell", "echo"], after[len(before):])

# The same client against a model whose provider speaks Anthropic's Messages API.
claude = ai.chat.completions.create(model="claude", messages=[{"role": "system", "content": "Be brief."},
                                                               {"role": "user", "content": "rivers run to the sea"}], max_tokens=20)
check("an Anthropic provider's answer, in OpenAI's shape", claude.choices[0].message.content == "You said: rivers run to the sea"
      and claude.choices[0].finish_reason == "stop" and claude.usage.completion_tokens == 7, claude.model_dump_json()[:300])
chunks = list(ai.chat.completions.create(model="claude", messages=[{"role": "user", "content": "one two three four five"}], max_tokens=4,
                                         stream=True))
text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
check("an Anthropic stream, cut at max_tokens: finish_reason length, usage in the finish chunk",
      text == "You said: one two" and chunks[-1].choices[0].finish_reason == "length" and chunks[-1].usage.completion_tokens == 4,
      [chunk.model_dump_json()[:200] for chunk in chunks[-2:]])
before = required("read the provider's calls", lambda: call("GET", "/test/calls", url=provider), 200)
overloaded = ai.chat.completions.create(model="skillup-claude-failover", messages=[{"role": "user", "content": "anyone there"}], max_tokens=20)
after = required("read the provider's calls", lambda: call("GET", "/test/calls", url=provider), 200)
check("an overloaded Anthropic provider (529) falls over to the next", overloaded.choices[0].message.content == "You said: anyone there"
      and after[len(before):][-2:] == ["claude-overloaded", "echo"], after[len(before):])

for name, expected, kind, attempt in [
    ("an access token instead of a key: AuthenticationError", 401, openai.AuthenticationError,
     lambda: client(token).models.list()),
    ("a key without the inference scope: PermissionDeniedError", 403, openai.PermissionDeniedError,
     lambda: client(bot_key).chat.completions.create(model="echo", messages=[{"role": "user", "content": "hi"}])),
    ("an unknown model: NotFoundError model_not_found", 404, openai.NotFoundError,
     lambda: ai.chat.completions.create(model="gpt-9", messages=[{"role": "user", "content": "hi"}])),
    ("max_tokens past the model's: BadRequestError naming it", 400, openai.BadRequestError,
     lambda: ai.chat.completions.create(model="echo", messages=[{"role": "user", "content": "hi"}], max_tokens=5000)),
]:
    error = refused(attempt)
    check(name, isinstance(error, kind) and error.status_code == expected, repr(error))
check("the refusal names the param", refused(lambda: ai.chat.completions.create(model="echo", messages=[], max_tokens=5)).param == "messages")
# A key with a daily limit of 30,000 µ: one skillup-fill request (20,000 µ) fits, the second would pass it.
capped_made = required("make a capped key", lambda: call("POST", "/auth/api-keys", {
    "password": "a v1 test passphrase", "name": "capped", "scopes": ["inference"], "daily_limit_micros": 30000}, token=token), 201)
capped_key, capped_key_id = capped_made["key"], capped_made["id"]
capped = client(capped_key)
capped.chat.completions.create(model="skillup-fill", messages=[{"role": "user", "content": "fill"}], max_tokens=1000)
over = refused(lambda: capped.chat.completions.create(model="skillup-fill", messages=[{"role": "user", "content": "fill"}], max_tokens=1000))
check("a key's daily limit: RateLimitError daily_limit_exceeded, with Retry-After to UTC midnight",
      isinstance(over, openai.RateLimitError) and over.code == "daily_limit_exceeded" and 0 < int(over.response.headers.get("retry-after", "0")) <= 86400,
      repr(over))
status, _ = call("PATCH", f"/auth/api-keys/{capped_key_id}", {"password": "a v1 test passphrase", "daily_limit_micros": 50000}, token=token)
again = capped.chat.completions.create(model="skillup-fill", messages=[{"role": "user", "content": "fill"}], max_tokens=1000)
check("the key's limit raised to 50,000 µ (PATCH /auth/api-keys/{id}): the next request passes at once", status == 200 and again.usage.completion_tokens == 1000,
      status)
spent = settled_balance(token)
check("the balance was charged the usage only, nothing is held", spent["reserved_micros"] == 0 and 40_000 < 1_000_000 - spent["available_micros"] < 40_100,
      spent)

# 200 at once on a balance that covers 50: skillup-fill holds and charges exactly 20,000 µ each.
token, key, _ = team(100)


async def many():
    fill = openai.AsyncOpenAI(base_url=base + "/v1", api_key=key, max_retries=0, http_client=openai.DefaultAsyncHttpx2Client(verify=tls, timeout=120))

    async def one():
        try:
            await fill.chat.completions.create(model="skillup-fill", messages=[{"role": "user", "content": "fill"}], max_tokens=1000)
            return "answered"
        except openai.APIStatusError as error:
            return f"{error.status_code} {error.code}"

    return await asyncio.gather(*(one() for _ in range(200)))


outcomes = asyncio.run(many())
counts = {outcome: outcomes.count(outcome) for outcome in set(outcomes)}
check("200 at once on a balance covering 50: exactly 50 answered, 150 insufficient_quota", counts == {"answered": 50, "429 insufficient_quota": 150},
      counts)
settled = settled_balance(token)
check("every hold settled: the balance is spent to 0, never below", settled == {**settled, "available_micros": 0, "reserved_micros": 0}, settled)
ledger = subprocess.run(psql + ["-tAc", f"""
    SELECT (SELECT coalesce(sum(amount), 0) FROM billing.balance_ledger WHERE team_id = '{settled["team"]}' AND state = 'topped_up'),
           (SELECT coalesce(sum(amount), 0) FROM billing.balance_ledger WHERE team_id = '{settled["team"]}' AND state = 'settled'),
           (SELECT coalesce(sum(cost), 0) FROM billing.usage_by_key WHERE team_id = '{settled["team"]}'),
           (SELECT coalesce(sum(requests), 0) FROM billing.usage_by_key WHERE team_id = '{settled["team"]}')"""],
                        capture_output=True, text=True)
check("the ledger: 1 USD topped up, 1 USD settled, equal to the usage's cost over 50 requests", ledger.stdout.strip() == "1000000|1000000|1000000|50",
      ledger.stdout + ledger.stderr)
report = required("read the usage report", lambda: call("GET", "/api/billing/usage", token=token), 200)
check("the usage report: 50 requests of skillup-fill, 1 USD, equal to the ledger", report["totals"]["requests"] == 50
      and report["totals"]["cost_micros"] == 1_000_000 and {line["model"] for line in report["lines"]} == {"skillup-fill"}, report["totals"])
csv_request = urllib.request.Request(base + "/api/billing/usage?format=csv", headers={"Authorization": f"Bearer {token}"})
with urllib.request.urlopen(csv_request, timeout=30, context=tls) as response:
    rows = response.read().decode().splitlines()
check("the usage report as CSV says the same", rows[0].startswith("day,key_id,model,requests") and
      sum(int(row.split(",")[6]) for row in rows[1:]) == 1_000_000, rows[:3])
status, _ = call("GET", "/api/billing/usage", token=key)
check("a key without usage:read is refused the report", status == 403, status)

# A team: an owner invites an admin, a billing person and a member by link; each role is allowed
# and refused what it should, as a session naming the team (X-Team) and as a key made for it.
owner_email, owner_password, owner_token = account()
acme = required("make a team", lambda: call("POST", "/auth/teams", {"name": "v1 team"}, token=owner_token), 201)["id"]
people = {"owner": (owner_email, owner_password, owner_token)}
for role in ("admin", "billing", "member"):
    people[role] = account()
    invited = required("invite", lambda: call("POST", f"/auth/teams/{acme}/invitations", {"email": people[role][0], "role": role}, token=owner_token), 201)
    link_token = invited["link"].split("#invitation=")[1]
    joined = required("accept", lambda: call("POST", "/auth/invitations/accept", {"token": link_token}, token=people[role][2]), 200)
    check(f"the {role} joins by the invitation's link", joined == {**joined, "id": acme, "role": role}, joined)
    status, again = call("POST", "/auth/invitations/accept", {"token": link_token}, token=people[role][2])
    check(f"the {role}'s link is spent", status == 410 and again["error"] == "invitation_used", (status, again))
top_up(owner_token, 100, team=acme)
check("the owner tops the team's balance up (X-Team), not their own",
      balance(owner_token)["available_micros"] == 0 and call("GET", "/api/billing/balance", token=owner_token, team=acme)[1]["available_micros"] == 1_000_000)

# What each role may do as a session naming the team (X-Team; authd's own /auth/teams routes take
# the team from the path instead): (method, path, body, the roles allowed).
allowed = [
    ("GET", "/api/billing/balance", None, {"owner", "admin", "billing"}),
    ("GET", "/api/billing/usage", None, {"owner", "admin", "billing"}),
    ("POST", "/api/billing/top-up", {"amount_cents": 100}, {"owner", "billing"}),
    ("GET", f"/auth/teams/{acme}/audit", None, {"owner", "admin"}),
    ("POST", f"/auth/teams/{acme}/invitations", {"email": "someone@example.com", "role": "member"}, {"owner", "admin"}),
]
for method, path, body, roles in allowed:
    for role, (_, _, role_token) in people.items():
        status, answer = call(method, path, body, token=role_token, team=acme)
        expected = 403 if role not in roles else (201 if method == "POST" and path.startswith("/auth/") else 200)
        check(f"{method} {path.replace(acme, '{team}')} as the {role}: {expected}", status == expected, (status, answer))

# The member's own balance, which the team's keys must leave alone.
top_up(people["member"][2], 100)
keys = {}
for role, (_, password, role_token) in people.items():
    made = required(f"make a {role} key", lambda: call(
        "POST", f"/auth/teams/{acme}/api-keys", {"password": password, "name": f"{role} key", "role": role}, token=role_token), 201)
    keys[role] = made["key"]
status, answer = call("POST", f"/auth/teams/{acme}/api-keys", {"password": people["member"][1], "name": "more", "role": "admin"}, token=people["member"][2])
check("a member cannot make an admin's key", status == 403 and answer["error"] == "role_not_allowed", (status, answer))
for role, team_key in keys.items():
    answered = refused(lambda: client(team_key).chat.completions.create(model="echo", messages=[{"role": "user", "content": "team"}], max_tokens=5))
    runs = role != "billing"
    check(f"the team's {role} key {'runs' if runs else 'is refused'} /v1",
          answered is None if runs else isinstance(answered, openai.PermissionDeniedError), repr(answered))
    for path, roles in (("/api/billing/usage", {"owner", "admin", "billing"}), ("/api/billing/balance", {"owner", "admin", "billing"})):
        status, _ = call("GET", path, token=team_key)
        check(f"GET {path} with the team's {role} key: {200 if role in roles else 403}", status == (200 if role in roles else 403), status)
settled_balance(owner_token, acme)
team_usage = required("the team's usage", lambda: call("GET", "/api/billing/usage", token=keys["billing"]), 200)
check("the team's usage: the three keys' requests, by key", team_usage["totals"]["requests"] == 3 and len({line["key_id"] for line in team_usage["lines"]}) == 3,
      team_usage["totals"])
own = {role: balance(role_token)["available_micros"] for role, (_, _, role_token) in people.items()}
check("the keys' makers' own balances are untouched", own == {"owner": 0, "admin": 0, "billing": 0, "member": 1_000_000}, own)
sys.exit(1 if failures else 0)
