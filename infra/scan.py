#!/usr/bin/env python3
"""Helpers of `infra/test.sh scan` (the outside scanner, wapiti, against a local server).

  scan.py login BASE DATA_DIR COOKIE_FILE   sign a company up through the real pages, log its
                                            owner in (password, then the code mailed to the
                                            outbox under DATA_DIR), add a few registrants, and
                                            write the session as a wapiti JSON cookie file
  scan.py alive BASE COOKIE_FILE            exit 1 unless the session still opens HOME (the
                                            scan kept its login, so it attacked the real pages)
  scan.py wapiti ARGS...                    wapiti 3.0.4 (Debian 12) with its `-x` fixed: its
                                            wildcard pattern ends in `\\Z(?ms)`, which Python
                                            3.11 refuses, so any exclusion crashed the scan
  scan.py verdict REPORT_JSON               print every finding; exit 1 on one of medium
                                            (wapiti level 2) or higher

Standard library only: CI machines have python3 and nothing else is needed.
"""

import glob
import json
import re
import sys
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar

EMAIL = "scan@example.jp"
PASSWORD = "Kiri-2026-pass"
LEVELS = {1: "low", 2: "medium", 3: "high", 4: "critical"}


class Client:
    """A cookie-keeping client that does not follow redirects (to read Location)."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    def __init__(self, base):
        self.base = base
        self.jar = CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), Client.NoRedirect
        )

    def request(self, path, fields=None):
        data = None if fields is None else urllib.parse.urlencode(fields).encode()
        try:
            with self.opener.open(self.base + path, data) as res:
                return res.status, res.headers.get("Location"), res.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("Location"), e.read().decode()

    def submit(self, page, action, fields):
        """Opens `page`, takes its CSRF token and posts `fields` with it to `action`."""
        _, _, html = self.request(page)
        token = re.search(r'name="csrf" value="([^"]+)"', html)
        if not token:
            sys.exit(f"scan: no CSRF token on {page}")
        return self.request(action, [("csrf", token.group(1))] + list(fields))


def latest_mail_line(data_dir, prefix):
    for path in sorted(glob.glob(f"{data_dir}/outbox/*.json"), reverse=True):
        mail = json.load(open(path))["mail"]
        if mail["to"] == EMAIL:
            for line in mail["body"].splitlines():
                if line.startswith(prefix):
                    return line[len(prefix):].strip()
    sys.exit(f"scan: no mail with {prefix} in the outbox")


def expect(step, got, location):
    status, loc, body = got
    if loc != location:
        sys.exit(f"scan: {step} failed ({status}, Location {loc}): {body[:500]}")


def login(base, data_dir, cookie_file):
    c = Client(base)
    expect("sign-up", c.submit("/signup", "/signup", [
        ("company_name", "株式会社スキャン"), ("family_name", "山田"), ("given_name", "太郎"),
        ("email", EMAIL), ("password", PASSWORD), ("password_confirm", PASSWORD),
    ]), "/signup/done")
    expect("password", c.submit("/login", "/login", [
        ("email", EMAIL), ("password", PASSWORD), ("customer_number", ""),
    ]), "/login/otp")
    code = latest_mail_line(data_dir, "第二認証コード:")
    expect("second factor", c.submit("/login/otp", "/login/otp", [("code", code)]), "/home")
    # A few registrants, so that the list, detail, edit and mail pages have something to show
    # (and to attack). Through 簡易登録, as an administrator would add them.
    rows = []
    for i, (family, given) in enumerate([("佐藤", "一郎"), ("鈴木", "花子"), ("高橋", "次郎")]):
        rows += [(f"attribute_{i}", "employee1"), (f"family_name_{i}", family),
                 (f"given_name_{i}", given), (f"email_{i}", f"staff{i}@example.jp")]
    status, loc, body = c.submit("/collection/quick", "/collection/quick", rows)
    if status != 303:
        sys.exit(f"scan: 簡易登録 failed ({status}): {body[:500]}")
    cookies = {
        cookie.name: {"value": cookie.value, "expires": None, "secure": False, "port": None,
                      "version": 0}
        for cookie in c.jar
    }
    host = urllib.parse.urlsplit(base).hostname
    json.dump({host: {"/": cookies}}, open(cookie_file, "w"))
    print(f"scan: logged in as the owner of a new company ({len(cookies)} cookies)")


def alive(base, cookie_file):
    cookies = next(iter(json.load(open(cookie_file)).values()))["/"]
    header = "; ".join(f"{name}={c['value']}" for name, c in cookies.items())
    c = Client(base)
    c.opener.addheaders = [("Cookie", header)]
    status, loc, _ = c.request("/home")
    if status != 200:
        sys.exit(f"scan: the scanner lost its session (HOME answered {status}, Location {loc})")
    print("scan: the scanner's session is still logged in")


def verdict(report_file):
    report = json.load(open(report_file))
    worst = 0
    for section in ("vulnerabilities", "anomalies", "additionals"):
        for category, findings in sorted(report.get(section, {}).items()):
            for f in findings:
                level = int(f.get("level", 0))
                worst = max(worst, level)
                name = LEVELS.get(level, "info")
                print(f"[{name}] {section}/{category}: {f.get('method', '')} {f.get('path', '')}"
                      f" {f.get('parameter', '')}: {f.get('info', '')}")
    if worst >= 2:
        print(f"scan: FAILED: a finding of level {LEVELS[worst]} (medium or higher)")
        sys.exit(1)
    print("scan: no finding of medium or higher")


def wapiti(args):
    import wapitiCore.net.crawler as crawler
    from wapitiCore.main.wapiti import wapiti_main

    def wildcard_translate(pattern):
        # The same translation, with the flags where Python 3.11 wants them: at the start.
        return re.compile("(?ms)" + ".*".join(re.escape(p) for p in pattern.split("*")) + r"\Z")

    crawler.wildcard_translate = wildcard_translate
    sys.argv = ["wapiti"] + args
    wapiti_main()


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "wapiti":
        wapiti(sys.argv[2:])
    elif len(sys.argv) == 5 and sys.argv[1] == "login":
        login(*sys.argv[2:])
    elif len(sys.argv) == 4 and sys.argv[1] == "alive":
        alive(*sys.argv[2:])
    elif len(sys.argv) == 3 and sys.argv[1] == "verdict":
        verdict(sys.argv[2])
    else:
        sys.exit(__doc__)
