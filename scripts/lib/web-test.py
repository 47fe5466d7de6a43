"""The web app as a person uses it, in headless Chromium through the stack's nginx (scripts/web-test).

Opened as a Telegram Mini App (initData signed with the stack's bot token in the fragment), signs
in to an account with no email. Then signs up, switches the language, generates a short answer
(and sees its text grow before it is done), is refused a long task on the free plan (with a link to the plans), uses up the free plan's
day (the message, and the button that waits), subscribes through the test checkout, runs a long task
and sees it finish without a reload, opens it from the history, creates and revokes an API key,
signs out everywhere and lands on the sign-in page, then signs in again. On every page: axe-core
finds no serious or critical violation, the console has no error and no CSP report, and screenshots
at desktop and phone width go to OUT. Prints each step as `web-test: ok` or `web-test: FAIL`.

  web-test.py BASE_URL OUT BOT_TOKEN_FILE
"""
import hashlib
import hmac
import json
import random
import re
import sys
import time
import urllib.parse
import uuid

from axe_selenium_python import Axe
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

base, out, bot_token_file = sys.argv[1], sys.argv[2], sys.argv[3]
failures = []
# Refusals the test provokes on purpose, by address and status: the browser logs each failed fetch,
# which is no error of the page's. Any other failed request is one.
expected_refusals = {
    ("/auth/me", 401),        # a visitor not signed in yet
    ("/auth/login", 401),     # a wrong password
    ("/auth/login", 429),     # the lockout that follows
    ("/api/generate", 402),   # a long task on the free plan
    ("/api/generate", 429),   # the free plan's day used up
    ("/api/subscription/change", 409),  # no subscription yet: the checkout instead
    ("/api/events", 401),     # the stream's reconnect after signing out everywhere
    ("/app/000000000000/main.js", 404),  # a version of the modules that is not the current one
}
failed_load = re.compile(r"^https://[^/ ]+(/[^ ?]*)\S* - Failed to load resource: the server responded with a status of (\d+)")
sizes = {"desktop": (1280, 900), "phone": (390, 844)}


def check(name, ok, detail=""):
    print(f"web-test: {'ok  ' if ok else 'FAIL'} {name}" + ("" if ok else f": {detail}"), flush=True)
    if not ok:
        failures.append(name)


options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--ignore-certificate-errors", "--lang=en-US",
                 "--window-size=1280,900"):
    options.add_argument(argument)
options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
driver.set_page_load_timeout(30)


def wait(condition, timeout=20, what="a condition"):
    try:
        # The app replaces the page's elements as it renders: one found a moment ago may be gone.
        return WebDriverWait(driver, timeout, poll_frequency=0.05, ignored_exceptions=[StaleElementReferenceException]).until(lambda _: condition())
    except TimeoutException:
        raise AssertionError(f"timed out waiting for {what} on {driver.current_url}")


def find(selector):
    return driver.find_element(By.CSS_SELECTOR, selector)


def finds(selector):
    return driver.find_elements(By.CSS_SELECTOR, selector)


def console_problems():
    problems = []
    for entry in driver.get_log("browser"):
        if entry["level"] != "SEVERE":
            continue
        refused = failed_load.match(entry["message"])
        if refused and (refused.group(1), int(refused.group(2))) in expected_refusals:
            continue
        problems.append(entry["message"])
    return problems


def color_scheme(scheme):
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": scheme}]})


def page_checks(name):
    """axe-core on the page as it is, in the light and the dark scheme; the console so far; and
    screenshots at both widths."""
    axe = Axe(driver)
    axe.inject()
    for scheme in ("light", "dark"):
        color_scheme(scheme)
        violations = [v for v in axe.run()["violations"] if v.get("impact") in ("serious", "critical")]
        check(f"{name}: no serious or critical accessibility violation ({scheme})", not violations,
              json.dumps([{"id": v["id"], "nodes": [n["target"] for n in v["nodes"][:3]]} for v in violations]))
    color_scheme("light")
    for size, (width, height) in sizes.items():
        driver.set_window_size(width, height)
        driver.execute_script("window.scrollTo(0, 0)")
        time.sleep(0.2)
        driver.save_screenshot(f"{out}/{name}-{size}.png")
    driver.set_window_size(*sizes["desktop"])
    problems = console_problems()
    check(f"{name}: no console error or CSP violation", not problems, "; ".join(problems[:3]))


def text_of(selector):
    """The text of the first element matching `selector` now ("" when there is none)."""
    return driver.execute_script("return document.querySelector(arguments[0])?.innerText ?? ''", selector)


def heading():
    return text_of("main h1")


def go(path):
    find(f'header nav a[href="{path}"]').click()
    wait(lambda: driver.execute_script("return location.pathname") == path and not finds("main .loading"), what=path)


def fill_form(values):
    for name, value in values.items():
        field = find(f'[name="{name}"]')
        if field.tag_name == "select":
            Select(field).select_by_value(value)
        else:
            field.clear()
            field.send_keys(value)


def generate(function, topic):
    """Submits the generator's form; answers the alert's text, or None when the answer came."""
    fill_form({"function": function, "topic": topic})
    # The last answer goes, so that only the new one is waited for.
    driver.execute_script("document.querySelector('.result')?.replaceChildren()")
    find('main form button[type="submit"]').click()
    wait(lambda: (finds(".result .text[data-state='done']") and text_of(".result .text"))
         or (finds("main form .alert") and find("main form .alert").is_displayed()) or finds(".task .status"),
         timeout=60, what=f"the answer to {function}")
    alert = finds("main form .alert")
    return alert[0].text if alert and alert[0].is_displayed() else None


email = f"web-{uuid.uuid4().hex[:12]}@example.com"
password = f"pass-{uuid.uuid4().hex}"
try:
    # First, opened as a Telegram Mini App: Telegram puts initData, signed with the bot's token, in the
    # fragment. A new visitor lands signed in, on an account of that Telegram user with no email.
    with open(bot_token_file) as token_file:
        bot_token = token_file.read().strip()
    pairs = {"auth_date": str(int(time.time())), "query_id": f"AAweb{uuid.uuid4().hex[:12]}",
             "user": json.dumps({"id": random.randint(10**6, 10**9), "first_name": "Mini", "language_code": "en"}, separators=(",", ":"))}
    secret = hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()
    pairs["hash"] = hmac.new(secret, "\n".join(f"{k}={v}" for k, v in sorted(pairs.items())).encode(), hashlib.sha256).hexdigest()
    driver.get(f"{base}/account#" + urllib.parse.urlencode({"tgWebAppData": urllib.parse.urlencode(pairs), "tgWebAppVersion": "8.0"}))
    wait(lambda: heading() == "Account" and "Signed in with Telegram" in text_of("main"), what="the Mini App signed in")
    check("a Telegram Mini App signs in with its initData, which leaves the address",
          driver.execute_script("return location.hash") == "")
    driver.execute_script("localStorage.clear()")
    driver.delete_all_cookies()

    driver.get(f"{base}/")
    wait(lambda: driver.execute_script("return location.pathname") == "/signin", what="the sign-in page")
    headers = driver.execute_script("""
        const r = await fetch('/', {cache: 'no-store'});
        return {csp: r.headers.get('Content-Security-Policy'), cache: r.headers.get('Cache-Control')};""")
    check("the page's CSP allows no inline script or style, no framing",
          "script-src 'self'" in (headers["csp"] or "") and "frame-ancestors 'none'" in headers["csp"] and "unsafe-inline" not in headers["csp"],
          str(headers))
    check("the page is revalidated on every visit", headers["cache"] == "no-cache", str(headers))
    module = driver.execute_script("return document.querySelector('script[type=module]').src")
    module_cache = driver.execute_script("const r = await fetch(arguments[0]); return r.headers.get('Cache-Control');", module)
    check("the app's modules are kept for a year under their content's version",
          re.search(r"/app/[0-9a-f]{12}/main\.js$", module) is not None and "immutable" in (module_cache or ""), f"{module} {module_cache}")
    stale = driver.execute_script("return (await fetch('/app/000000000000/main.js')).status")
    check("another version of the modules is not served", stale == 404, str(stale))
    page_checks("signin")

    find('a[href="/signup"]').click()
    wait(lambda: heading() == "Create an account", what="the sign-up page")
    page_checks("signup")
    fill_form({"email": email, "password": "short"})
    find('main form button[type="submit"]').click()
    check("a weak password is refused in place, by the browser or the API", driver.execute_script("return location.pathname") == "/signup")
    fill_form({"email": email, "password": password})
    find('main form button[type="submit"]').click()
    wait(lambda: heading() == "Generate", what="the generator after signing up")
    check("signing up signs in and opens the generator", True)

    Select(find('header select')).select_by_value("ru")
    wait(lambda: heading() == "Создать", what="the page in Russian")
    check("the language switch turns the page Russian", find('header nav a[href="/history"]').text == "История")
    driver.refresh()
    wait(lambda: heading() == "Создать", what="the Russian page after a reload")
    check("the chosen language is remembered", driver.execute_script("return document.documentElement.lang") == "ru")
    Select(find('header select')).select_by_value("en")
    wait(lambda: heading() == "Generate", what="the page in English")

    # A short answer, streamed: its text is seen growing before it is done. The page itself records
    # each change of the answer (state, length), so that no sample depends on the test's timing.
    fill_form({"function": "summary", "topic": "Photosynthesis in plants, for a school lesson"})
    driver.execute_script("""
        window.streamSamples = [];
        new MutationObserver(() => {
            const text = document.querySelector('.result .text');
            if (text) window.streamSamples.push([text.dataset.state, text.textContent.length]);
        }).observe(document.querySelector('.result'), {childList: true, subtree: true, characterData: true, attributes: true});""")
    find('main form button[type="submit"]').click()
    wait(lambda: driver.execute_script("return window.streamSamples.some(([state]) => state === 'done')"), timeout=60, what="the streamed answer")
    seen = [tuple(sample) for sample in driver.execute_script("return window.streamSamples")]
    final = seen[-1][1] if seen else 0
    check("a short answer is streamed: its text grows before it is done",
          any(state == "streaming" and 0 < length < final for state, length in seen), str(seen[-5:]))
    check("the streamed answer is done with its text", bool(seen) and seen[-1][0] == "done" and final > 0, str(seen[-3:]))
    page_checks("generate")

    # The free plan has no long tasks: the refusal says so in place and links to the plans.
    message = generate("lesson_plan", "Fractions for the fifth grade")
    check("a long task on the free plan: the message, in place", bool(message), str(message))
    check("the refusal links to the plans", bool(finds('main form .alert a[href="/plans"]')))

    # The free plan's day runs out: the quota message, and the button waits.
    refused = None
    for index in range(12):
        refused = generate("title", f"Topic number {index} {uuid.uuid4().hex[:6]}")
        if refused:
            break
    check("the free plan's day runs out with its message", bool(refused) and finds('main form .alert a[href="/plans"]'), str(refused))
    check("the button waits after a 429", not find('main form button[type="submit"]').is_enabled())

    go("/plans")
    check("the plans page shows the day's usage", "Today" in text_of("main") and bool(finds("main progress")))
    page_checks("plans")
    pro = [plan for plan in finds("li.plan") if plan.find_element(By.CSS_SELECTOR, "h3").text.lower().startswith("pro")][0]
    pro.find_element(By.CSS_SELECTOR, "button").click()
    wait(lambda: "/api/billing/test-pay" in driver.current_url, what="the test checkout")
    driver.find_element(By.CSS_SELECTOR, 'form button[type="submit"]').click()
    wait(lambda: "Paid:" in text_of("body"), timeout=30, what="the payment's answer")
    driver.get_log("browser")  # the checkout's pages are subscribed's, not the app's
    driver.get(f"{base}/plans")
    wait(lambda: "Your plan: Pro" in text_of("main"), timeout=30, what="the Pro plan")
    check("subscribing through the test checkout gives the Pro plan", True)

    # A long task, live: queued, then done, on the same page (no reload).
    go("/generate")
    driver.execute_script("window.stayedOnPage = true")
    generate("lesson_plan", "Fractions for the fifth grade")
    statuses = set()
    deadline = time.time() + 120
    while time.time() < deadline:
        status = finds(".task .status")
        if status:
            statuses.add(status[0].get_attribute("data-status"))
            if "succeeded" in statuses:
                break
        time.sleep(0.1)
    check("a long task finishes live without reloading",
          "succeeded" in statuses and driver.execute_script("return window.stayedOnPage === true"), str(statuses))
    check("the finished task shows its text", len(text_of(".task .text")) > 0)

    go("/history")
    items = finds("ul.history li a")
    check("the history lists the generations", len(items) >= 2, str(len(items)))
    page_checks("history")
    topic = items[0].text
    items[0].click()
    wait(lambda: heading() == topic and not finds("main .loading"), what="a generation's page")
    check("a generation opens from the history with its text", len(text_of("main .text")) > 0)
    page_checks("result")

    go("/account")
    wait(lambda: finds("section.developers .balance"), what="the developers' card")
    check("the developers' card shows the prepaid balance", "$0.00 available" in text_of("section.developers .balance"),
          text_of("section.developers .balance"))
    csv = driver.execute_async_script("""const done = arguments[arguments.length - 1];
        fetch(document.querySelector('section.developers a[download]').href).then(async (answer) => done([answer.status, await answer.text()]))""")
    check("its usage report downloads as CSV with the session", csv[0] == 200 and csv[1].startswith("day,key_id,model,requests"), str(csv)[:120])
    fill_form({"key_name": "web-test bot", "key_password": password, "key_daily_limit": "2.5"})
    find('main form button.primary').click()
    wait(lambda: finds("code.key"), what="the new API key")
    check("a new API key is shown once", text_of("code.key").startswith("sk_"), text_of("code.key")[:6])
    page_checks("account")
    key_row = "return [...document.querySelectorAll('.rows li')].find((li) => li.textContent.includes('web-test bot')) ?? null"
    wait(lambda: driver.execute_script(key_row), what="the new key in the list")
    check("the key lists its daily limit", "up to $2.50 a day" in driver.execute_script(key_row).text, driver.execute_script(key_row).text)
    driver.execute_script(key_row).find_element(By.CSS_SELECTOR, "button[aria-expanded]").click()
    limit_field = driver.execute_script(key_row).find_element(By.CSS_SELECTOR, '[name="limit_usd"]')
    limit_field.clear()
    limit_field.send_keys("4")
    driver.execute_script(key_row).find_element(By.CSS_SELECTOR, '[name="limit_password"]').send_keys(password)
    driver.execute_script(key_row).find_element(By.CSS_SELECTOR, "form.limit button[type=submit]").click()
    wait(lambda: "up to $4.00 a day" in (driver.execute_script(key_row).text if driver.execute_script(key_row) else ""), what="the changed limit")
    check("a key's daily limit is changed in place, with the password", True)
    driver.execute_script(key_row).find_element(By.CSS_SELECTOR, "button").click()
    wait(lambda: driver.execute_script(key_row) is None, what="the revoked key gone")
    check("an API key is revoked", True)

    # A team made here, and a second account invited to it by its link (opened further down).
    fill_form({"team_name": "web-test team"})
    find('[name="team_name"]').find_element(By.XPATH, "ancestor::form").find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait(lambda: finds("article.team section.developers .balance"), what="the new team with its balance")
    check("a new team lists its owner, and its own balance", "your role: owner" in text_of("article.team h3")
          and email in text_of("article.team .rows") and "$0.00 available" in text_of("article.team section.developers .balance"),
          text_of("article.team")[:300])
    invited_email = f"web-invited-{random.SystemRandom().randint(10**8, 10**9)}@example.com"
    registered = driver.execute_async_script("""const done = arguments[arguments.length - 1];
        fetch('/auth/register', {method: 'POST', headers: {'Content-Type': 'application/json'},
          body: JSON.stringify({email: arguments[0], password: arguments[1]})}).then((answer) => done(answer.status))""", invited_email, password)
    fill_form({"invite_email": invited_email, "invite_role": "member"})
    find('[name="invite_email"]').find_element(By.XPATH, "ancestor::form").find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait(lambda: finds("code.invitation-link"), what="the invitation's link")
    invitation_link = text_of("code.invitation-link")
    check("an invitation gives a link to pass on", registered == 201 and invitation_link.startswith(f"{base}/account#invitation=inv_"), invitation_link)
    page_checks("account with a team")

    find("button.danger").click()
    wait(lambda: driver.execute_script("return location.pathname") == "/signin", what="the sign-in page")
    check("signing out everywhere lands on the sign-in page", True)
    driver.get(f"{base}/account")
    wait(lambda: driver.execute_script("return location.pathname") == "/signin", what="the sign-in page")
    check("after signing out, a page that needs a session shows the sign-in page", True)

    # The invited account opens the link, says yes, and is a member: no balance for that role.
    fill_form({"email": invited_email, "password": password})
    find('main form button[type="submit"]').click()
    wait(lambda: heading() == "Generate", timeout=30, what="the generator for the invited account")
    driver.get(invitation_link)
    wait(lambda: finds("div.once button.primary"), what="the invitation's question")
    find("div.once button.primary").click()
    wait(lambda: "You joined web-test team as member." in text_of("main") and finds("article.team"), what="joining the team")
    check("the invited account joins by the link, as a member, without the team's balance",
          "your role: member" in text_of("article.team h3") and not finds("article.team section.developers") and "#invitation" not in driver.current_url,
          text_of("article.team")[:300])
    find("button.danger").click()
    wait(lambda: driver.execute_script("return location.pathname") == "/signin", what="the sign-in page")

    # Wrong passwords lock the account for a while: the message says how long, and the button waits.
    locked = None
    for _ in range(8):
        fill_form({"email": email, "password": "not-the-password-at-all"})
        find('main form button[type="submit"]').click()
        wait(lambda: find("main form .alert").is_displayed(), what="the refusal")
        if not find('main form button[type="submit"]').is_enabled():
            locked = find("main form .alert").text
            break
        time.sleep(0.2)
    check("a locked account: the message says when to try again, and the button waits", bool(locked) and "try again" in locked, str(locked))
    wait(lambda: find('main form button[type="submit"]').is_enabled(), timeout=30, what="the lockout to pass")
    # Signing in with the keyboard alone: a page puts the focus on its content (the skip link,
    # first of all, leads there too), then Tab to the form's fields, and Enter.
    driver.get(f"{base}/signin")
    wait(lambda: heading() == "Sign in", what="the sign-in page")
    check("the first focusable element is the skip link to the content",
          driver.execute_script("return document.querySelector('a, button, input, select, textarea').className") == "skip")
    check("a page puts the focus on its content", driver.execute_script("return document.activeElement.id") == "main")
    for _ in range(6):
        if driver.execute_script("return document.activeElement.name") == "email":
            break
        ActionChains(driver).send_keys(Keys.TAB).perform()
    ActionChains(driver).send_keys(email, Keys.TAB, password, Keys.ENTER).perform()
    wait(lambda: heading() == "Generate", timeout=30, what="the generator after signing in")
    check("signing in with the keyboard alone opens the generator", True)

    # Each page loaded afresh, three times (the median: two busy cores), by the browser's own
    # Navigation Timing; each load still signed in.
    loads = {}
    for path in ("/generate", "/history", "/plans", "/account"):
        times = []
        for _ in range(3):
            driver.get(f"{base}{path}")
            wait(lambda: driver.execute_script("return performance.getEntriesByType('navigation')[0].loadEventEnd > 0"), what=f"{path} loaded")
            times.append(driver.execute_script("return performance.getEntriesByType('navigation')[0].loadEventEnd"))
            wait(lambda: driver.execute_script("return location.pathname") == path and heading() not in ("", "Loading…"), what=f"{path} signed in")
        loads[path] = sorted(times)[1]
    slowest = max(loads, key=loads.get)
    print(f"web-test: page loads (ms) {json.dumps({path: round(ms) for path, ms in loads.items()})}")
    check("the slowest page loads in under 500 ms", loads[slowest] < 500, f"{slowest} {loads[slowest]:.0f} ms")
    problems = console_problems()
    check("no console error while the pages reload", not problems, "; ".join(problems[:3]))

except AssertionError as error:
    driver.save_screenshot(f"{out}/failure.png")
    check("the browser's path", False, str(error))
except Exception as error:  # noqa: BLE001 - a Selenium error is a failed run, shown with its page
    driver.save_screenshot(f"{out}/failure.png")
    check("the browser's path", False, f"{type(error).__name__}: {error}")
finally:
    driver.quit()

print(f"web-test: {len(failures)} check(s) failed" if failures else "web-test: all passed")
sys.exit(1 if failures else 0)
