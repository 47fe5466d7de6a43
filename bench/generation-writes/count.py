"""bench/run-generation-writes' measuring part: COUNT summaries answered in the request, then COUNT
lesson_plan tasks, each waited for to its end, first one at a time, then PARALLEL (16) at once (where
concurrent generations share commits), each between two idle windows; PostgreSQL's transactions
that wrote (xids assigned), WAL flushes (pg_stat_wal's wal_sync) and rows written per table
(pg_stat_user_tables), each read once every backend has reported its statistics, less the
background's at the idle windows' rate.

  python3 count.py BASE_URL TOKEN COUNT PARALLEL PSQL_ARGS..."""
import concurrent.futures
import json
import ssl
import subprocess
import sys
import time
import urllib.request

base, token, count, parallel, psql = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5:]
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


IDLE = 20


def window(work):
    """The counters' and tables' growth over `work`, less the background's (the event relays' lease
    passes, autovacuum) at the mean rate of an idle window before it and one after; and how far
    those two rates differ, as the margin. Every read waits until the backends have reported."""
    time.sleep(REPORTED)
    a, a_rows = counters(), rows()
    time.sleep(IDLE)
    b, b_rows = counters(), rows()
    started = time.monotonic()
    work()
    elapsed = time.monotonic() - started
    time.sleep(REPORTED)
    c, c_rows = counters(), rows()
    time.sleep(IDLE)
    d, d_rows = counters(), rows()
    busy = elapsed + REPORTED

    def net(first, before, after, last):
        background = ((before - first) + (last - after)) / 2 / IDLE * busy
        margin = abs((before - first) - (last - after)) / 2 / IDLE * busy
        return after - before - background, margin

    totals = [net(*values) for values in zip(a, b, c, d)]
    tables = {}
    for name in c_rows:
        zero = [0, 0, 0]
        change = [net(*values)[0] for values in zip(a_rows.get(name, zero), b_rows.get(name, zero), c_rows[name], d_rows.get(name, c_rows[name]))]
        if any(abs(value) / count >= 0.05 for value in change):
            tables[name] = change
    return totals, tables, elapsed


def summary(index):
    status, answer = call("POST", "/api/generate", {"topic": f"Writes {run} {index}", "function": "summary", "options": {"max_tokens": 40}})
    if status != 200 or answer.get("status", "succeeded") != "succeeded":
        raise SystemExit(f"run-generation-writes: a summary answered {status} {answer}")


def task(index):
    status, accepted = call("POST", "/api/generate", {"topic": f"Writes {run} task {index}", "function": "lesson_plan", "options": {"max_tokens": 40}})
    if status != 202:
        raise SystemExit(f"run-generation-writes: a task answered {status} {accepted}")
    deadline = time.monotonic() + 60
    while True:
        _, state = call("GET", f"/api/generate/{accepted['task_id']}")
        if state["status"] == "succeeded":
            return
        if state["status"] == "failed" or time.monotonic() > deadline:
            raise SystemExit(f"run-generation-writes: a task ended {state['status']}")
        time.sleep(0.005)


def at_once(generation, workers):
    """COUNT of `generation`, `workers` at a time; the first failure stops the run."""
    def work():
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(generation, range(count)))
    return work


method = subprocess.run(psql + ["-tAc", "SHOW wal_sync_method"], check=True, capture_output=True, text=True).stdout.strip()
if method not in ("fdatasync", "fsync"):
    raise SystemExit(f"run-generation-writes: wal_sync_method is {method}: pg_stat_wal.wal_sync counts nothing then")
for name, generation in [("a summary answered in the request", summary), ("a task (lesson_plan)", task)]:
    for workers in [1, parallel]:
        ((xids, xids_margin), (syncs, syncs_margin), (records, _)), tables, elapsed = window(at_once(generation, workers))
        shape = "one at a time" if workers == 1 else f"{workers} at a time"
        print(f"{name}: {xids / count:.1f} ± {xids_margin / count:.1f} transactions that wrote, {syncs / count:.1f} ± {syncs_margin / count:.1f}"
              f" WAL flushes ({method}), {records / count:.0f} WAL records per generation ({count} {shape} in {elapsed:.1f} s;"
              f" the background's subtracted, ± how much its rate differed before and after)")
        for table, (inserted, updated, deleted) in sorted(tables.items()):
            print(f"  {table}: {inserted / count:.1f} inserted, {updated / count:.1f} updated, {deleted / count:.1f} deleted")
