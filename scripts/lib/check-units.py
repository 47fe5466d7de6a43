"""Checks that the systemd units keep the daemons apart, as the README's security section says:
each daemon runs as its own user and group, its sockets are in a folder of its own under
/run/skillup that nginx's www-data (a member of every daemon group) can enter and no other daemon
can, it reads Redis as its own ACL user, and every socket nginx's system-install upstreams name is
one a unit listens on. Each internal API (INTERNAL_APIS: subscribed's entitlements, authd's
Telegram sessions and account lookup, docsd's documents) has its sockets in a folder of its own, of
a group that its callers are members of and www-data is not, and the sockets each caller names are
the ones the API's server listens on. Prints "units ok" or one line per problem.

Usage: python3 check-units.py SYSTEMD_DIR RENDERED_UPSTREAMS_CONF RUN_DIR_IN_THAT_CONF
"""
import pathlib
import re
import sys

# folder under /run/skillup, the daemon serving it, the group admitting its callers, the callers,
# and the option with which a caller names the sockets.
INTERNAL_APIS = [
    ("entitlements", "subscribed", "skillup-entitlements", ["aid", "genworker", "docsd"], "--entitlements-sockets"),
    ("telegram-sessions", "authd", "skillup-telegram-sessions", ["botd"], "--authd-sockets"),
    ("accounts", "authd", "skillup-accounts", ["docsd"], "--authd-sockets"),
    ("documents", "docsd", "skillup-documents", ["aid"], "--documents-sockets"),
]

systemd, upstreams_conf, rendered_run_dir = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3]
problems = []
listened = set()
served = {folder: set() for folder, *_ in INTERNAL_APIS}
asked = {}

sysusers = (systemd / "skillup-sysusers.conf").read_text()
tmpfiles = (systemd / "skillup-tmpfiles.conf").read_text()
members = {tuple(line.split()[1:3]) for line in sysusers.splitlines() if line.startswith("m ")}
upstreams = upstreams_conf.read_text()

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
    command = " ".join(settings.get("ExecStart", []))
    for option in {api[4] for api in INTERNAL_APIS}:
        for sockets in re.findall(re.escape(option) + r" (\S+)", command):
            asked.setdefault((daemon, option), set()).update(sockets.split(","))
    for socket in re.findall(r"unix:(\S+)", command):
        api = next((folder for folder, server, *_ in INTERNAL_APIS if server == daemon and socket.startswith(f"/run/skillup/{folder}/")), None)
        if api:
            served[api].add(socket)
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

for folder, server, group, callers, option in INTERNAL_APIS:
    if ("www-data", group) in members:
        problems.append(f"skillup-sysusers.conf: www-data (nginx) may enter the {folder} sockets' folder")
    for member, in_group in members:
        if in_group == group and member.removeprefix("skillup-") not in callers:
            problems.append(f"skillup-sysusers.conf: {member} may enter the {folder} sockets' folder")
    if not re.search(rf"^d /run/skillup/{folder} 2750 skillup-{server} {group} ", tmpfiles, re.M):
        problems.append(f"skillup-tmpfiles.conf: no setgid /run/skillup/{folder} folder of skillup-{server} and {group}")
    # The server's instances nginx sends to are the ones whose sockets the callers must name.
    instances = set(re.findall(rf"/{server}/{server}-(\d)\.sock", upstreams))
    expected = {socket.replace("%i", i) for socket in served[folder] for i in instances}
    for caller in callers:
        if (f"skillup-{caller}", group) not in members:
            problems.append(f"skillup-sysusers.conf: skillup-{caller} is not a member of {group}")
        named = {socket for socket in asked.get((caller, option), set()) if socket.startswith(f"/run/skillup/{folder}/")}
        if named != expected:
            problems.append(f"skillup-{caller}: {folder} sockets {sorted(named)}, expected {server}'s {sorted(expected)}")
    if not served[folder]:
        problems.append(f"skillup-{server}@.service: listens on no socket in /run/skillup/{folder}/, which {', '.join(callers)} call")
for (caller, option), sockets in asked.items():
    for socket in sockets:
        if not any(
            socket.startswith(f"/run/skillup/{folder}/") and caller in callers and option == api_option
            for folder, _, _, callers, api_option in INTERNAL_APIS
        ):
            problems.append(f"skillup-{caller}: {option} names {socket}, which is no socket of that option's internal API that it may call")

for socket in re.findall(r"server unix:(\S+?);?\s", upstreams):
    path = socket.replace(rendered_run_dir, "/run/skillup", 1)
    if path.startswith("/run/skillup/nginx/"):
        continue
    if re.sub(r"-(\d)(-validate|-events|-reads)?\.sock$", r"-{i}\2.sock", path) not in listened:
        problems.append(f"upstream socket {path} is not one a unit listens on")

print("\n".join(problems) if problems else "units ok")
