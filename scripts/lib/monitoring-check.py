"""Checks of the monitoring against a live stack, for scripts/stack-smoke.

  monitoring-check.py families URL...         every metric family each URL exports is the product's
                                              (skillup_), with # HELP and # TYPE
  monitoring-check.py targets PROMETHEUS N     within 60 s, Prometheus has N targets, every one up
  monitoring-check.py dashboard PROMETHEUS DASHBOARD RULES
                                              within 30 s, every metric that a query of DASHBOARD or
                                              RULES names is one Prometheus has scraped, or a series
                                              RULES records
  monitoring-check.py quiet PROMETHEUS        within 20 s, no alert raised (pending or firing):
                                              "[]", or the alerts still raised then
  monitoring-check.py alert PROMETHEUS NAME INSTANCE...
                                              within 30 s, alert NAME raised (pending or firing) for
                                              each INSTANCE: the alerts NAME has, "NAME instance state"

Each prints one line that starts with "ok" or says what is wrong, and exits 0 either way: the
smoke test's `check` compares the line.
"""
import json
import re
import sys
import time
import urllib.request


def get(url):
    with urllib.request.urlopen(url, timeout=10) as answer:
        return answer.read().decode()


def families(urls):
    problems, count = [], 0
    for url in urls:
        text = get(url)
        helped = set(re.findall(r"^# HELP (\S+) \S", text, re.M))
        typed = dict(re.findall(r"^# TYPE (\S+) (\S+)", text, re.M))
        for name, kind in typed.items():
            count += 1
            if not name.startswith("skillup_"):
                problems.append(f"{url}: {name} lacks the skillup_ prefix")
            if name not in helped:
                problems.append(f"{url}: {name} has no HELP")
            if kind == "counter" and not name.endswith("_total"):
                problems.append(f"{url}: counter {name} does not end in _total")
    print("ok" if not problems else "; ".join(problems), count, "families")


def targets(prometheus, expected):
    deadline = time.time() + 60
    while True:
        active = json.loads(get(f"{prometheus}/api/v1/targets?state=active"))["data"]["activeTargets"]
        down = [f"{t['labels'].get('instance')} ({t['lastError'] or t['health']})" for t in active if t["health"] != "up"]
        if (len(active) == expected and not down) or time.time() > deadline:
            break
        time.sleep(1)
    print("ok" if len(active) == expected and not down else "not up: " + ", ".join(down), f"{len(active)} targets")


def dashboard(prometheus, path, rules):
    rules_text = open(rules).read()
    recorded = set(re.findall(r"^\s*- record: (\S+)", rules_text, re.M))
    panels = json.load(open(path))["panels"]
    exprs = [target["expr"] for panel in panels for target in panel.get("targets", [])]
    exprs += re.findall(r"^\s*expr: (.+)$", rules_text, re.M)
    # The metric names: what is left of a query without its label matchers, grouping clauses and
    # durations, that is not a function's name.
    def names(expr):
        expr = re.sub(r"\{[^}]*\}|\[[^\]]*\]|\b(by|without|on|ignoring)\s*\([^)]*\)", " ", expr)
        return re.findall(r"(?<![\w:.])[a-zA-Z_:][a-zA-Z0-9_:]*(?![\w:]|\s*\()", expr)
    words = {w for expr in exprs for w in names(expr)} - {"and", "or", "unless", "bool", "offset"}
    # A series appears at the first scrape after its first sample: the smoke test's requests made
    # most of them a moment ago.
    deadline = time.time() + 30
    while True:
        known = recorded | set(json.loads(get(f"{prometheus}/api/v1/label/__name__/values"))["data"])
        unknown = sorted(w for w in words if w not in known)
        if not unknown or time.time() > deadline:
            break
        time.sleep(1)
    print("ok" if not unknown else "unknown metrics: " + ", ".join(unknown), f"{len(words)} metrics in {len(exprs)} queries")


def quiet(prometheus):
    # Rules evaluated before the first scrapes see no series (absent() is true): those alerts are
    # pending until the next evaluation after the targets are up.
    deadline = time.time() + 20
    while True:
        raised = [f"{a['labels']['alertname']} {a['state']}" for a in json.loads(get(f"{prometheus}/api/v1/alerts"))["data"]["alerts"]]
        if not raised or time.time() > deadline:
            break
        time.sleep(1)
    print(raised)


def alert(prometheus, name, *instances):
    deadline = time.time() + 30
    while True:
        raised = [a for a in json.loads(get(f"{prometheus}/api/v1/alerts"))["data"]["alerts"] if a["labels"]["alertname"] == name]
        if set(instances) <= {a["labels"].get("instance") for a in raised} or time.time() > deadline:
            break
        time.sleep(1)
    print("\n".join(sorted(f"{name} {a['labels'].get('instance', '-')} {a['state']}" for a in raised)) or f"{name} not raised")


command, args = sys.argv[1], sys.argv[2:]
{"families": lambda: families(args), "targets": lambda: targets(args[0], int(args[1])),
 "dashboard": lambda: dashboard(*args), "quiet": lambda: quiet(*args), "alert": lambda: alert(*args)}[command]()
