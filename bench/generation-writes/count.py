"""bench/run-generation-writes' measuring part: COUNT summaries answered in the request, one at a
time, then COUNT lesson_plan tasks, each waited for to its end, with an idle window as long as each
run after it; PostgreSQL's transactions that wrote (xids assigned) and WAL flushes (pg_stat_wal's
wal_sync, once every backend has reported its statistics) over each window.

  python3 count.py BASE_URL TOKEN COUNT PSQL_ARGS..."""
import json
import ssl
import subprocess
import sys
import time
import urllib.request

base, token, count, psql = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
context = ssl._create_unverified_context()
run = time.time_ns()
# A backend reports its WAL statistics at most once a second, and an idle one within 10 s.
REPORTED = 11


def call(method, path, body=None):
    request = urllib.request.Request(base + path, data=json.dumps(body).encode() if body else None, method=method,
                                     headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, context=context, timeout=60) as response:
        return response.status, json.load(response)


def counters():
    """Transactions that wrote (the next xid) and WAL flushes, as PostgreSQL counts them now."""
    row = subprocess.run(psql + ["-tAc", "SELECT pg_snapshot_xmax(pg_current_snapshot()), wal_sync, wal_records FROM pg_stat_wal"],
                         check=True, capture_output=True, text=True).stdout.strip().split("|")
    return [int(value) for value in row]


def rows():
    """Rows inserted, updated and deleted so far, by table."""
    lines = subprocess.run(psql + ["-tAc", "SELECT schemaname || '.' || relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables"],
                           check=True, capture_output=True, text=True).stdout.split()
    return {name: [int(ins), int(upd), int(dele)] for name, ins, upd, dele in (line.split("|") for line in lines)}


def window(work):
    """The counters' and tables' growth over `work`, less an idle window's as long, read once reported."""
    time.sleep(REPORTED)
    before, before_rows = counters(), rows()
    started = time.monotonic()
    work()
    elapsed = time.monotonic() - started
    time.sleep(REPORTED)
    after, after_rows = counters(), rows()
    # The idle window runs as long as the busy one: `elapsed` and the reporting wait.
    time.sleep(elapsed + REPORTED)
    idle, idle_rows = counters(), rows()
    grown = {}
    for name, written in after_rows.items():
        was, later = before_rows.get(name, [0, 0, 0]), idle_rows.get(name, written)
        change = [a - b - (i - a) for b, a, i in zip(was, written, later)]
        if any(change):
            grown[name] = change
    return [a - b - (i - a) for b, a, i in zip(before, after, idle)], grown, elapsed


def answered():
    for index in range(count):
        status, answer = call("POST", "/api/generate", {"topic": f"Writes {run} {index}", "function": "summary", "options": {"max_tokens": 40}})
        if status != 200 or answer.get("status", "succeeded") != "succeeded":
            raise SystemExit(f"run-generation-writes: a summary answered {status} {answer}")


def tasks():
    for index in range(count):
        status, accepted = call("POST", "/api/generate", {"topic": f"Writes {run} task {index}", "function": "lesson_plan", "options": {"max_tokens": 40}})
        if status != 202:
            raise SystemExit(f"run-generation-writes: a task answered {status} {accepted}")
        deadline = time.monotonic() + 60
        while True:
            _, state = call("GET", f"/api/generate/{accepted['task_id']}")
            if state["status"] == "succeeded":
                break
            if state["status"] == "failed" or time.monotonic() > deadline:
                raise SystemExit(f"run-generation-writes: a task ended {state['status']}")
            time.sleep(0.005)


for name, work in [("a summary answered in the request", answered), ("a task (lesson_plan)", tasks)]:
    (xids, syncs, records), tables, elapsed = window(work)
    print(f"{name}: {xids / count:.2f} transactions that wrote, {syncs / count:.2f} WAL flushes, {records / count:.1f} WAL records"
          f" per generation ({count} one at a time in {elapsed:.1f} s, an idle window's subtracted)")
    for table, (inserted, updated, deleted) in sorted(tables.items()):
        print(f"  {table}: {inserted / count:.2f} inserted, {updated / count:.2f} updated, {deleted / count:.2f} deleted")
