#!/usr/bin/env python3
"""A script that generates through SkillUp's API with an API key, using `requests` only.

    SKILLUP_API_KEY=sk_... python3 examples/generate.py summary "Photosynthesis"
    SKILLUP_API_KEY=sk_... python3 examples/generate.py --base https://localhost:8443 --insecure lesson_plan "Fractions"

Creates an API key on the account page (scope `generate`), or with `POST /auth/api-keys`.

- A short function (summary, explain, quiz, title) is answered in the request, and the text is printed.
- A long one (lesson_plan, scenario) is queued (202). The script waits for the task's end on the
  user's event stream (`/api/events`) and falls back to polling its status if the stream is not
  there. Then it prints the text.
- A 429 waits its `Retry-After` and asks again, with the same `Idempotency-Key`, so a task is never
  queued twice. A wait longer than `--max-wait` (a day's quota used up) is not waited: the script
  says when the quota resets.
- A 402 says which plans give the function.

Exit codes:
- 0: the text was printed.
- 2: a usage error, or any other refusal.
- 3: a subscription or renewal is required (402).
- 4: the quota or rate limit will not clear within `--max-wait`.
- 5: the task failed or was canceled.
"""
import argparse
import json
import os
import sys
import time
import uuid

import requests

FINAL = {"succeeded", "failed", "canceled"}


def fail(code, message):
    print(message, file=sys.stderr)
    sys.exit(code)


def error_of(response):
    try:
        return response.json()
    except ValueError:
        return {"error": f"http_{response.status_code}", "message": response.text[:200]}


def generate(session, base, body, max_wait):
    """POSTs the generation, waiting out 429s that clear soon; answers the 200 or 202 response."""
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    while True:
        response = session.post(f"{base}/api/generate", json=body, headers=headers, timeout=120, verify=session.verify)
        if response.status_code in (200, 202):
            return response
        error = error_of(response)
        if response.status_code == 429:
            wait = int(response.headers.get("Retry-After", "1"))
            if wait <= max_wait:
                print(f"429 {error.get('error')}: waiting {wait} s", file=sys.stderr)
                time.sleep(wait)
                continue
            resets = f" (resets at {error['resets_at']})" if error.get("resets_at") else ""
            fail(4, f"{error.get('error')}: {error.get('message')}{resets}")
        if response.status_code == 402:
            plans = f"; plans that include it: {', '.join(error['plans'])}" if error.get("plans") else ""
            fail(3, f"{error.get('error')}: {error.get('message')}{plans}. See {base}/plans")
        fail(2, f"{response.status_code} {error.get('error')}: {error.get('message')}")


def task_status(session, base, task_id):
    response = session.get(f"{base}/api/generate/{task_id}", timeout=30, verify=session.verify)
    if response.status_code != 200:
        error = error_of(response)
        fail(2, f"{response.status_code} {error.get('error')}: {error.get('message')}")
    return response.json()


def wait_over_events(session, base, task_id, deadline):
    """The task's end from the event stream; None when the stream is not there (then poll)."""
    try:
        with session.get(
            f"{base}/api/events", stream=True, timeout=(10, 30), headers={"Accept": "text/event-stream"}, verify=session.verify
        ) as stream:
            if stream.status_code != 200:
                return None
            # The stream is open: a task that ended before it opened is seen by this read.
            status = task_status(session, base, task_id)
            if status["status"] in FINAL:
                return status
            event = None
            for line in stream.iter_lines(decode_unicode=True):
                if time.monotonic() > deadline:
                    return None
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event in ("generation.succeeded", "generation.failed", "generation.canceled"):
                    if json.loads(line[5:]).get("data", {}).get("task_id") == task_id:
                        return task_status(session, base, task_id)
                elif line.startswith("data:") and event == "closed":
                    return None
    except requests.RequestException:
        return None
    return None


def wait_for_task(session, base, task_id, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = wait_over_events(session, base, task_id, deadline)
        if status:
            return status
        # No stream: poll.
        status = task_status(session, base, task_id)
        if status["status"] in FINAL:
            return status
        time.sleep(2)
    fail(2, f"the task {task_id} did not end within {timeout} s")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("function", help="summary, explain, quiz, title, lesson_plan or scenario")
    parser.add_argument("topic")
    parser.add_argument("--base", default=os.environ.get("SKILLUP_URL", "https://localhost:8443"))
    parser.add_argument("--language", default="en", choices=["ru", "en"])
    parser.add_argument("--insecure", action="store_true", help="accept the local stack's development certificate")
    parser.add_argument("--max-wait", type=int, default=30, help="the longest Retry-After to wait out, in seconds")
    parser.add_argument("--timeout", type=int, default=300, help="how long to wait for a queued task, in seconds")
    args = parser.parse_args()
    key = os.environ.get("SKILLUP_API_KEY")
    if not key:
        fail(2, "set SKILLUP_API_KEY to an API key (sk_...)")

    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {key}"
    # Passed on each call too: a CA bundle named in the environment (REQUESTS_CA_BUNDLE) would
    # otherwise take the place of the session's setting.
    session.verify = not args.insecure
    if args.insecure:
        requests.packages.urllib3.disable_warnings()

    body = {"function": args.function, "topic": args.topic, "options": {"language": args.language}}
    response = generate(session, args.base, body, args.max_wait)
    if response.status_code == 200:
        print(response.json()["text"])
        return
    task_id = response.json()["task_id"]
    print(f"queued: {task_id}", file=sys.stderr)
    status = wait_for_task(session, args.base, task_id, args.timeout)
    if status["status"] != "succeeded":
        fail(5, f"the task {status['status']}: {status.get('failure', '')}")
    print(status.get("text", ""))


if __name__ == "__main__":
    main()
