"""docsd through nginx against the running stack (scripts/docs-test): what a user of the documents
API sees, with real authd, subscribed, aid, notifyd, PostgreSQL and RabbitMQ behind it. Three users,
each doing at most ten writes (the free plan's burst), and three sign-ups (the sign-in endpoints'
per-address budget is shared with the checks that run next). Prints each step as `docs-test: ok` or
`docs-test: FAIL`.

  docs-test.py GATEWAY_URL
"""
import json
import random
import ssl
import sys
import time
import urllib.error
import urllib.request

base = sys.argv[1]
failures = []
insecure = ssl.create_default_context()
insecure.check_hostname = False
insecure.verify_mode = ssl.CERT_NONE


def check(name, ok, detail=""):
    print(f"docs-test: {'ok  ' if ok else 'FAIL'} {name}" + ("" if ok else f": {detail}"), flush=True)
    if not ok:
        failures.append(name)


class Answer:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    @property
    def json(self):
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")


def call(method, path, body=None, token=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    fields = {"Accept": "application/json", **(headers or {})}
    if data is not None:
        fields["Content-Type"] = "application/json"
    if token:
        fields["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(base + path if path.startswith("/") else path, data=data, method=method, headers=fields)
    try:
        with urllib.request.urlopen(request, timeout=30, context=insecure) as response:
            return Answer(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.headers, error.read())


def user():
    email = f"docs-{random.randint(10**8, 10**9)}@example.com"
    credentials = {"email": email, "password": "a docs test passphrase"}
    registered = call("POST", "/auth/register", credentials)
    if registered.status != 201:
        raise SystemExit(f"docs-test: cannot register: {registered.status} {registered.text}")
    return email, call("POST", "/auth/login", credentials).json["access_token"]


def wait_until(condition, within=15):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.5)
    return condition()


# Documents are their owner's: another user gets the same 404 as for none.
_, owner = user()
recipient_email, stranger = user()
made = call("POST", "/api/documents", {"title": "Plan <b>one</b>", "body": "Line\n<script>alert(1)</script> & more", "kind": "lesson_plan"}, owner)
check("a document is made: 201, version 1 as its ETag", made.status == 201 and made.headers.get("ETag") == '"1"', f"{made.status} {made.text}")
document = made.json["id"]
check("another user's document is 404", call("GET", f"/api/documents/{document}", token=stranger).status == 404)
check("without a token: 401", call("GET", f"/api/documents/{document}").status == 401)
# A read is kept in memory by the instance that answered it (README, "Reads from memory"); a change
# is read back at once, in the document and in the list.
first_reads = [call("GET", f"/api/documents/{document}", token=owner) for _ in range(2)]
check("a document read again is the same", first_reads[0].status == 200 and first_reads[0].text == first_reads[1].text, first_reads[1].text[:200])
listed = call("GET", "/api/documents", token=owner)
saved = call("PUT", f"/api/documents/{document}", {"title": "Plan one", "body": "second"}, owner, {"If-Match": '"1"'})
reread = call("GET", f"/api/documents/{document}", token=owner)
relisted = call("GET", "/api/documents", token=owner)
check("a change is read back at once", reread.headers.get("ETag") == '"2"' and reread.json["body"] == "second", f"{reread.headers.get('ETag')} {reread.text[:200]}")
check("and in the list", [d["version"] for d in listed.json["documents"]] == [1] and [d["version"] for d in relisted.json["documents"]] == [2], relisted.text[:200])
stale = call("PUT", f"/api/documents/{document}", {"title": "Plan one", "body": "lost"}, owner, {"If-Match": '"1"'})
check("a change on the current version is saved", saved.status == 200 and saved.json["version"] == 2, f"{saved.status} {saved.text}")
check("a change on a stale version: 412 with the current version", stale.status == 412 and stale.json.get("current_version") == 2, f"{stale.status} {stale.text}")
restored = call("POST", f"/api/documents/{document}/versions/1/restore", token=owner, headers={"If-Match": '"2"'})
check("version 1 restored as version 3", restored.status == 200 and restored.json["version"] == 3 and "<script>" in restored.json["body"], restored.text)

# A share link: read without signing in, as escaped text, until it ends.
link = call("POST", f"/api/documents/{document}/share", {"access": "read"}, owner).json
page = call("GET", link["url"].replace("https://localhost:" + base.rsplit(":", 1)[1], base), headers={"Accept": "text/html"})
check("a share link is read without signing in", page.status == 200 and "Plan &lt;b&gt;one&lt;/b&gt;" in page.text, f"{page.status} {page.text[:200]}")
check("its body's <script> is shown as text", "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in page.text and "<script" not in page.text, page.text[:400])
check("it asks robots not to index it", page.headers.get("X-Robots-Tag") == "noindex, nofollow", str(page.headers.get("X-Robots-Tag")))
check("it runs no script (its policy)", (page.headers.get("Content-Security-Policy") or "").startswith("default-src 'none'"), str(page.headers.get("Content-Security-Policy")))
check("it still carries the gateway's HSTS", page.headers.get("Strict-Transport-Security") is not None)
token_path = "/s/" + link["token"]
check("another user cannot revoke it", call("DELETE", f"/api/documents/{document}/links/{link['id']}", token=stranger).status == 404)
revoked = call("DELETE", f"/api/documents/{document}/links/{link['id']}", token=owner)
after_revoke = call("GET", token_path, headers={"Accept": "text/html"})
never = call("GET", "/s/" + "A" * 43, headers={"Accept": "text/html"})
check("revoked: 404", revoked.status == 204 and after_revoke.status == 404, f"{revoked.status} {after_revoke.status}")
check("a revoked link and one that never was look the same", after_revoke.text == never.text and never.status == 404)
expiring = call("POST", f"/api/documents/{document}/share", {"expires_in": 1}, owner).json
check("an expired link: 404", wait_until(lambda: call("GET", "/s/" + expiring["token"]).status == 404))
lasting = call("POST", f"/api/documents/{document}/share", token=owner).json
check("a live link is read", call("GET", "/s/" + lasting["token"]).status == 200)
check("its document deleted (to the trash)", call("DELETE", f"/api/documents/{document}", token=owner).status == 204)
check("a deleted document's link: 404", call("GET", "/s/" + lasting["token"]).status == 404)
statuses = [call("GET", "/s/" + "B" * 43).status for _ in range(45)]
check("share links have their own per-address limit", 429 in statuses and statuses[0] == 404, str(sorted(set(statuses))))

# Search in Russian finds an inflected form.
_, searcher = user()
for title, body in [("План урока", "Дети читают сказки о животных"), ("Lesson notes", "Children were reading stories")]:
    call("POST", "/api/documents", {"title": title, "body": body}, searcher)
found = call("GET", "/api/documents?q=" + urllib.request.quote("уроки животные"), token=searcher)
check("a search finds a Russian word in its inflected form", [d["title"] for d in found.json["documents"]] == ["План урока"], found.text)
check("the plans say how many documents each keeps", all("documents_max" in plan for plan in call("GET", "/api/plans").json["plans"]))

# Shared by email: the recipient is told and edits under If-Match; the owner is told of the edit.
sharer, recipient = searcher, stranger
shared = call("POST", "/api/documents", {"title": "Shared plan", "body": "v1"}, sharer).json["id"]
given = call("POST", f"/api/documents/{shared}/shares", {"email": recipient_email.upper(), "access": "edit"}, sharer)
check("a document is shared by email", given.status == 201, f"{given.status} {given.text}")
check("the recipient sees it", call("GET", f"/api/documents/{shared}", token=recipient).json.get("access") == "edit")
edited = call("PUT", f"/api/documents/{shared}", {"title": "Shared plan", "body": "v2"}, recipient, {"If-Match": '"1"'})
check("the recipient edits it on the current version", edited.status == 200, f"{edited.status} {edited.text}")
check("an unknown email is 404", call("POST", f"/api/documents/{shared}/shares", {"email": "nobody-here@example.com"}, sharer).status == 404)
ended = call("DELETE", f"/api/documents/{shared}/shares/{given.json.get('user_id')}", token=sharer)
check("a share taken back", ended.status == 204, f"{ended.status} {ended.text}")
# The recipient's instance hears of it from PostgreSQL, within milliseconds.
check("closes the document to its recipient", wait_until(lambda: call("GET", f"/api/documents/{shared}", token=recipient).status == 404, within=2))


def events(token, kind):
    return [e for e in call("GET", "/api/notifications?limit=50", token=token).json.get("events", []) if e.get("type") == kind]


check("the recipient is told: document.shared", wait_until(lambda: any(e["data"].get("document_id") == shared for e in events(recipient, "document.shared"))))
check("the owner is told of the edit: document.updated", wait_until(lambda: any(e["data"].get("document_id") == shared for e in events(sharer, "document.updated"))))

# The profile's language is what the next generation that names none is written in; a generation is saved.
writer = recipient
profile = call("PUT", "/api/profile", {"language": "en", "display_name": "Ada"}, writer)
check("the profile is saved", profile.status == 200 and profile.json["language"] == "en", profile.text)
generated = call("POST", "/api/generate", {"topic": "Volcanoes", "function": "summary"}, writer)
check("a generation naming no language", generated.status == 200, f"{generated.status} {generated.text}")
stored = call("GET", f"/api/generate/{generated.json['id']}", token=writer).json
check("is written in the profile's language", stored.get("language") == "en" and "Write in English." in generated.json["text"], json.dumps(stored)[:300])
kept = call("POST", f"/api/generate/{generated.json['id']}/save", token=writer)
check("a generation is saved as a document in one call", kept.status == 201 and kept.headers.get("Location", "").startswith("/api/documents/"), f"{kept.status} {kept.text}")
if kept.status == 201:
    copy = call("GET", kept.headers["Location"], token=writer).json
    check("the document keeps its text and source", copy["body"] == generated.json["text"] and copy["source_generation_id"] == generated.json["id"], json.dumps(copy)[:300])
check("another user cannot save it", call("POST", f"/api/generate/{generated.json['id']}/save", token=owner).status == 404)

# aid keeps the profile's defaults and is told of each change by PostgreSQL (sql/021): a change holds
# for the next generation, once its notification has arrived (well under the pause here).
changed = call("PUT", "/api/profile", {"language": "ru", "display_name": "Ada"}, writer)
check("the profile's language is changed", changed.status == 200 and changed.json["language"] == "ru", changed.text)
time.sleep(0.5)
again = call("POST", "/api/generate", {"topic": "Volcanoes again", "function": "summary"}, writer)
check("the next generation naming no language follows the change", again.status == 200 and "Write in Russian." in again.json.get("text", ""), f"{again.status} {again.text[:300]}")

sys.exit(1 if failures else 0)
