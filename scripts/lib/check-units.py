"""Checks that the systemd units keep the daemons apart, as the README's security section says:
each daemon runs as its own user and group, its sockets are in a folder of its own under
/run/skillup that nginx's www-data (a member of every daemon group) can enter and no other daemon
can, it reads Redis as its own ACL user, and every socket nginx's system-install upstreams name is
one a unit listens on. subscribed's entitlement sockets are in /run/skillup/entitlements, a folder of
the group skillup-entitlements, which aid and genworker are members of and www-data is not, and the
entitlement sockets aid names are the ones subscribed listens on. Prints
"units ok" or one line per problem.

Usage: python3 check-units.py SYSTEMD_DIR RENDERED_UPSTREAMS_CONF RUN_DIR_IN_THAT_CONF
"""
import pathlib
import re
import sys

systemd, upstreams_conf, rendered_run_dir = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3]
problems = []
listened = set()
entitlement_sockets = set()
asked_entitlements = set()
session_sockets = set()
asked_sessions = set()

sysusers = (systemd / "skillup-sysusers.conf").read_text()
members = {tuple(line.split()[1:3]) for line in sysusers.splitlines() if line.startswith("m ")}

for unit in sorted(systemd.glob("skillup-*.service")):
    daemon = re.match(r"skillup-(\w+)", unit.name).group(1)
    text = unit.read_text()
    settings = {}
    for line in text.replace("\\\n", " ").splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            settings.setdefault(key.strip(), []).append(value.strip())
    expect = {"User": [f"skillup-{daemon}"], "Group": [f"skillup-{daemon}"], "RuntimeDirectory": [f"skillup/{daemon}"]}
    for key, value in expect.items():
        if settings.get(key) != value:
            problems.append(f"{unit.name}: {key} is {settings.get(key)}, expected {value}")
    if "DynamicUser" in settings:
        problems.append(f"{unit.name}: DynamicUser gives a group nginx cannot be a member of")
    for sockets in re.findall(r"--entitlements-sockets (\S+)", " ".join(settings.get("ExecStart", []))):
        asked_entitlements.update((daemon, socket) for socket in sockets.split(","))
    for sockets in re.findall(r"--authd-sockets (\S+)", " ".join(settings.get("ExecStart", []))):
        asked_sessions.update(sockets.split(","))
    for socket in re.findall(r"unix:(\S+)", " ".join(settings.get("ExecStart", []))):
        if daemon == "subscribed" and socket.startswith("/run/skillup/entitlements/"):
            entitlement_sockets.add(socket)
            continue
        if daemon == "authd" and socket.startswith("/run/skillup/telegram-sessions/"):
            session_sockets.add(socket)
            continue
        if not socket.startswith(f"/run/skillup/{daemon}/"):
            problems.append(f"{unit.name}: socket {socket} is outside /run/skillup/{daemon}/")
        listened.add(socket.replace("%i", "{i}"))
    for credential in settings.get("LoadCredential", []):
        if credential.startswith("redis-password:") and not credential.endswith(f"/redis-password-{daemon}"):
            problems.append(f"{unit.name}: Redis password {credential} is not the daemon's own")
    if ("www-data", f"skillup-{daemon}") not in members:
        problems.append(f"skillup-sysusers.conf: www-data is not a member of skillup-{daemon}")
    for member, group in members:
        if group == f"skillup-{daemon}" and member != "www-data":
            problems.append(f"skillup-sysusers.conf: {member} may enter {daemon}'s socket folder")

if ("www-data", "skillup-entitlements") in members:
    problems.append("skillup-sysusers.conf: www-data (nginx) may enter the entitlement sockets' folder")
for member in ("skillup-aid", "skillup-genworker"):
    if (member, "skillup-entitlements") not in members:
        problems.append(f"skillup-sysusers.conf: {member} is not a member of skillup-entitlements")
if not re.search(r"^d /run/skillup/entitlements 2750 skillup-subscribed skillup-entitlements ", (systemd / "skillup-tmpfiles.conf").read_text(), re.M):
    problems.append("skillup-tmpfiles.conf: no setgid /run/skillup/entitlements folder of skillup-subscribed and skillup-entitlements")
if ("www-data", "skillup-telegram-sessions") in members:
    problems.append("skillup-sysusers.conf: www-data (nginx) may enter the Telegram session sockets' folder")
if ("skillup-botd", "skillup-telegram-sessions") not in members:
    problems.append("skillup-sysusers.conf: skillup-botd is not a member of skillup-telegram-sessions")
if not re.search(r"^d /run/skillup/telegram-sessions 2750 skillup-authd skillup-telegram-sessions ", (systemd / "skillup-tmpfiles.conf").read_text(), re.M):
    problems.append("skillup-tmpfiles.conf: no setgid /run/skillup/telegram-sessions folder of skillup-authd and skillup-telegram-sessions")
authd_instances = set(re.findall(r"/authd/authd-(\d)\.sock", upstreams_conf.read_text()))
expected_sessions = {socket.replace("%i", i) for socket in session_sockets for i in authd_instances}
if asked_sessions != expected_sessions:
    problems.append(f"skillup-botd: authd sockets {sorted(asked_sessions)}, expected authd's Telegram session sockets {sorted(expected_sessions)}")
# The subscribed instances nginx sends to are the ones whose entitlement sockets aid must name.
instances = set(re.findall(r"/subscribed/subscribed-(\d)\.sock", upstreams_conf.read_text()))
for daemon in {daemon for daemon, _ in asked_entitlements}:
    asked = {socket for asker, socket in asked_entitlements if asker == daemon}
    expected = {socket.replace("%i", i) for socket in entitlement_sockets for i in instances}
    if asked != expected:
        problems.append(f"skillup-{daemon}: entitlement sockets {sorted(asked)}, expected subscribed's {sorted(expected)}")

for socket in re.findall(r"server unix:(\S+?);?\s", upstreams_conf.read_text()):
    path = socket.replace(rendered_run_dir, "/run/skillup", 1)
    if path.startswith("/run/skillup/nginx/"):
        continue
    if re.sub(r"-(\d)(-validate|-events)?\.sock$", r"-{i}\2.sock", path) not in listened:
        problems.append(f"upstream socket {path} is not one a unit listens on")

print("\n".join(problems) if problems else "units ok")
