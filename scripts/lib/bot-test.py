"""botd through nginx, with the fake Telegram (scripts/lib/fake-telegram.py) delivering updates
and taking the replies, against the running stack (scripts/bot-test).

A wrong or missing secret is 401 and stores nothing; one update delivered twice at once is handled
once; /start makes the account and answers in the user's language; /generate answers a short
function, refuses a long one on the free plan and the free plan's eleventh of a day, each with the
plans page; /plan gives a checkout link that, paid, lets a long task be queued and its result sent
when it ends; a 429 for one chat holds only that chat; botd killed right after answering 200 handles
the update once restarted. Prints each step as `bot-test: ok` or `bot-test: FAIL`.

  bot-test.py TELEGRAM_URL ROOT STATE
"""
import json
import os
import random
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

telegram, root, state = sys.argv[1], sys.argv[2], sys.argv[3]
failures = []


def check(name, ok, detail=""):
    print(f"bot-test: {'ok  ' if ok else 'FAIL'} {name}" + ("" if ok else f": {detail}"), flush=True)
    if not ok:
        failures.append(name)


def call(method, url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


next_update = random.randint(10**8, 10**9) * 100


def update(chat, text, language="en", user=None):
    global next_update
    next_update += 1
    return {"update_id": next_update, "message": {"message_id": next_update, "date": int(time.time()), "text": text,
                                                  "chat": {"id": chat, "type": "private"},
                                                  "from": {"id": user or chat, "is_bot": False, "first_name": "Ada", "language_code": language}}}


def deliver(body, **extra):
    return call("POST", f"{telegram}/test/updates", {**body, **extra})


def messages(chat):
    return [m["text"] for m in call("GET", f"{telegram}/test/messages?chat_id={chat}")]


def wait_for(chat, count, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = messages(chat)
        if len(found) >= count:
            return found
        time.sleep(0.1)
    return messages(chat)


def new_chat():
    return random.randint(10**9, 10**12)


def stored(update_id):
    env = dict(os.environ)
    with open(f"{state}/stack.env") as f:
        for line in f:
            name, _, value = line.removeprefix("export ").strip().partition("=")
            env[name] = value.strip("'")
    return subprocess.run(["psql", env["POSTGRES_URL"], "-tAc", f"SELECT count(*) FROM bots.updates WHERE update_id = {int(update_id)}"],
                          capture_output=True, text=True, env=env).stdout.strip()


# The secret: wrong or missing is refused, and nothing is stored.
chat = new_chat()
body = update(chat, "/help")
wrong = deliver(body, secret="not-the-secret-0123456789")
missing = deliver(body, secret=None)
check("a wrong secret is 401 invalid_webhook_secret", wrong["status"] == 401 and "invalid_webhook_secret" in wrong["body"], str(wrong))
check("a missing secret is 401", missing["status"] == 401, str(missing))
check("and nothing was stored", stored(body["update_id"]) == "0", stored(body["update_id"]))

# One update delivered twice at once (nginx may give each to another instance): handled once.
chat = new_chat()
body = update(chat, "/generate summary Tides and the moon")
answers = []
threads = [threading.Thread(target=lambda: answers.append(deliver(body)["status"])) for _ in range(2)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
check("the same update delivered twice at once: both 200", answers == [200, 200], str(answers))
replies = wait_for(chat, 1)
time.sleep(1.5)
replies = messages(chat)
check("and answered once, with the generated text", len(replies) == 1 and "Tides" in replies[0], str(replies))

# /start makes the account, in the user's language.
chat = new_chat()
deliver(update(chat, "/start", language="ru"))
replies = wait_for(chat, 2)
check("/start makes the account and answers in Russian", replies[:1] and replies[0].startswith("Добро пожаловать, Ada!"), str(replies))
deliver(update(chat, "/start", language="ru"))
replies = wait_for(chat, 4)
check("a second /start finds it", len(replies) >= 3 and replies[2].startswith("С возвращением"), str(replies))

# A long task on the free plan is refused with the plans page; the free plan's eleventh of the day too.
deliver(update(chat, "/generate lesson_plan Fractions", language="en"))
replies = wait_for(chat, 5)
check("a long task on the free plan: refused, with the plans page", len(replies) >= 5 and "Refused: " in replies[4] and "/plans" in replies[4],
      str(replies[4:]))
for index in range(10):
    deliver(update(chat, f"/generate title A topic {index} {random.random()}"))
deliver(update(chat, "/generate title One more topic"))
replies = wait_for(chat, 16, timeout=120)
check("the free plan's day used up: the quota's refusal, with the plans page",
      len(replies) == 16 and "Refused: " in replies[15] and "/plans" in replies[15], str(replies[-2:]))

# /plan pro: a checkout link; paid, a long task is queued and its result comes when it ends.
chat = new_chat()
deliver(update(chat, "/plan pro"))
link = wait_for(chat, 1)[0]
check("/plan pro gives a checkout link", "test-pay?checkout=" in link, link)
checkout = link[link.index("http"):].strip()
query = urllib.parse.urlparse(checkout).query
pay = urllib.request.Request(checkout.split("?")[0], data=query.encode(), method="POST", headers={"Accept": "application/json"})
# The stack's development certificate.
insecure = ssl.create_default_context()
insecure.check_hostname = False
insecure.verify_mode = ssl.CERT_NONE
urllib.request.urlopen(pay, context=insecure, timeout=30).read()
time.sleep(2)
deliver(update(chat, "/generate lesson_plan Fractions for the fifth grade"))
replies = wait_for(chat, 3, timeout=90)
check("subscribed, a long task is queued", len(replies) >= 2 and replies[1].startswith("Queued: lesson_plan"), str(replies))
check("and its result arrives when it ends", len(replies) >= 3 and replies[2].startswith("Ready: lesson_plan"), str(replies[2:]))

# A 429 for one chat holds only that chat.
held, other = new_chat(), new_chat()
call("POST", f"{telegram}/test/throttle", {"chat_id": held, "retry_after": 3, "times": 1})
start = time.time()
deliver(update(held, "/help"))
deliver(update(other, "/help"))
wait_for(other, 1)
other_at = time.time() - start
wait_for(held, 1)
held_at = time.time() - start
check("a 429 for one chat: the other chat's reply goes at once", other_at < 2.5, f"{other_at:.1f} s")
check("and the held chat's after its retry_after", held_at >= 3, f"{held_at:.1f} s")

# botd killed right after it answered 200: the update is handled when botd runs again.
chat = new_chat()
body = update(chat, "/generate summary Volcanoes")
status = deliver(body)["status"]
pids = [open(f"{state}/run/{name}.pid").read().strip() for name in ("botd-1", "botd-2")]
subprocess.run(["kill", "-KILL", *pids])
check("an update answered 200 just before botd was killed", status == 200, str(status))
subprocess.run([f"{root}/scripts/stack", "restart", "botd-1", "botd-2"], check=True, capture_output=True)
replies = wait_for(chat, 1, timeout=60)
time.sleep(1)
replies = messages(chat)
check("is handled once botd runs again, once", len(replies) == 1 and "Volcanoes" in replies[0], str(replies))

print(f"bot-test: {len(failures)} check(s) failed" if failures else "bot-test: all passed")
sys.exit(1 if failures else 0)
