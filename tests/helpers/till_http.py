"""A cookie-keeping HTTP client for the running app: the window, or a stranger's browser on the same machine."""

from __future__ import annotations

import http.cookiejar
import re
import time
import urllib.error
import urllib.parse
import urllib.request


class TillBrowser:
    """A cookie-keeping HTTP client (urllib): the window, or a stranger's browser on the same machine."""

    def __init__(self, base: str) -> None:
        self.base, self.jar = base, http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def clone(self) -> TillBrowser:
        """Return another tab of the same browser: the same cookies (launch proof, session), its own connections."""
        other = TillBrowser(self.base)
        for cookie in self.jar:
            other.jar.set_cookie(cookie)
        return other

    def request(self, path: str, data: dict[str, str] | None = None) -> tuple[int, str, str]:
        """Return (status, final path, page) after following redirects."""
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            with self.opener.open(self.base + path, data=body, timeout=30) as response:
                return response.status, urllib.parse.urlsplit(response.url).path, response.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, urllib.parse.urlsplit(err.url).path, err.read().decode()

    def form(self, path: str, data: dict[str, str], form_page: str | None = None) -> tuple[int, str, str]:
        """Post ``data`` to ``path`` with the CSRF token of the page the form is on, as a browser would."""
        status, _, page = self.request(form_page or path)
        assert status == 200, (form_page or path, status, page[:300])
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert token, page[:500]
        return self.request(path, {"csrfmiddlewaretoken": token.group(1), **data})

    def page(self, path: str, expected: str) -> str:
        status, final, page = self.request(path)
        assert status == 200 and expected in page, (path, status, final, page[:300])
        return final


def demo_credentials(output: list[str]) -> dict[str, str]:
    text = "\n".join(output)
    manager = re.search(r"Manager\s+admin login: (\S+) / (\S+)\s+till PIN: (\d+)", text)
    cashier = re.search(r"Cashier\s+till PIN: (\d+)", text)
    assert manager and cashier, text
    return {"manager": manager.group(1), "password": manager.group(2), "manager_pin": manager.group(3)} | {
        "cashier_pin": cashier.group(1)
    }


def open_till(app, *, timeout: float = 60.0) -> tuple[TillBrowser, dict[str, str]]:
    """Open the window's session on a running headless app; return it and the staff ids by name."""
    window = TillBrowser(app.base)
    status, final, _ = window.request(app.url[len(app.base) :])
    assert status == 200, (status, final)
    deadline = time.monotonic() + timeout
    while True:  # the start-up screen hands over to the till once the database is ready
        status, final, page = window.request("/signin/")
        if final == "/signin/" and "Who is on the till?" in page:
            break
        assert time.monotonic() < deadline, (status, final, page[:300])
        time.sleep(0.3)
    staff = {name: pk for pk, name in re.findall(r'name="staff" value="(\d+)"[^>]*>\s*<span>([^<]+)<small>', page)}
    return window, staff
