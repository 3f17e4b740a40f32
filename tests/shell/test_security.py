"""The local server answers only the window that launched it (docs/design.md section 6)."""

from __future__ import annotations

import pytest
from django.test import Client

from aurswift import launch
from pos.models import StaffProfile
from pos.services import demo
from tests.helpers.app import wait_until
from tests.helpers.till_http import TillBrowser, demo_credentials

SECRET = "test-launch-secret"


@pytest.fixture
def launched(settings):
    """Turn on the launch secret, as the launcher does, with an unused one-time path."""
    settings.AURSWIFT_LAUNCH_SECRET = SECRET
    launch._used.clear()
    yield
    launch._used.clear()


def _opened_client(**kwargs) -> Client:
    client = Client(**kwargs)
    assert client.get(f"/launch/{SECRET}/")["Location"] == "/startup/"
    return client


@pytest.mark.parametrize("path", ["/", "/signin/", "/admin/", "/admin/login/", "/reports/x/", "/startup/"])
def test_requests_without_the_launch_secret_are_refused(db, launched, path):
    response = Client().get(path)
    assert response.status_code == 403
    assert "only available in the AurSwift window" in response.content.decode()


def test_the_launch_path_sets_the_csrf_cookie_once_for_all_pages(db, launched):
    # Without it, the start-up screen's quick page loads could each mint a cookie and refuse a recovery button.
    response = Client().get(f"/launch/{SECRET}/")
    assert response.cookies["csrftoken"].value


def test_the_one_time_path_opens_the_session_once(db, launched):
    client = _opened_client()
    assert client.get("/signin/").status_code == 200
    again = Client().get(f"/launch/{SECRET}/")
    assert again.status_code == 403 and "Link no longer valid" in again.content.decode()
    assert Client().get("/launch/wrong-secret/").status_code == 403


def test_a_session_from_an_earlier_launch_is_refused(db, launched, settings):
    client = _opened_client()
    settings.AURSWIFT_LAUNCH_SECRET = "the-next-launch"
    assert client.get("/signin/").status_code == 403


@pytest.mark.parametrize("host", ["evil.example", "127.0.0.1.nip.io", "192.168.1.10"])
def test_wrong_host_header_is_refused(db, launched, host):
    client = _opened_client()
    assert client.get("/signin/", HTTP_HOST=host).status_code == 400


def test_localhost_host_header_is_accepted(db, launched):
    client = _opened_client()
    assert client.get("/signin/", HTTP_HOST="localhost").status_code == 200


def test_cross_site_post_without_csrf_token_is_refused(db, launched):
    creds = demo.create_demo_data()
    client = _opened_client(enforce_csrf_checks=True)
    profile = StaffProfile.objects.get(user__username="cashier")
    response = client.post("/signin/", {"staff": profile.pk, "pin": creds.cashier_pin})
    assert response.status_code == 403
    assert client.get("/")["Location"] == "/signin/"  # not signed in


def test_cashier_session_cannot_reach_the_admin(db, launched):
    creds = demo.create_demo_data()
    client = _opened_client()
    profile = StaffProfile.objects.get(user__username="cashier")
    assert client.post("/signin/", {"staff": profile.pk, "pin": creds.cashier_pin})["Location"] == "/"
    for path in ["/admin/", "/admin/pos/order/", "/admin/auth/user/"]:
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


# --- The launch proof is separate from who is signed in ---------------------------------------------------------


def _page(client: Client, path: str, expected: str) -> None:
    response = client.get(path, follow=True)
    assert response.status_code == 200, (path, response.status_code)
    assert expected in response.content.decode(), path


def test_the_launch_proof_is_its_own_httponly_strict_cookie_bound_to_this_launch(db, launched):
    response = Client().get(f"/launch/{SECRET}/")
    cookie = response.cookies[launch.COOKIE_NAME]
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/"
    assert not cookie["max-age"] and not cookie["expires"]  # lasts as long as the window's browser session
    assert SECRET not in cookie.value and launch.launch_fingerprint() in cookie.value  # signed, secret not shown


def test_sign_out_shift_change_and_admin_log_in_and_out_keep_the_window_open(db, launched):
    creds = demo.create_demo_data()
    client = _opened_client()
    cashier = StaffProfile.objects.get(user__username="cashier")
    manager = StaffProfile.objects.get(user__username="manager")

    assert client.post("/signin/", {"staff": cashier.pk, "pin": creds.cashier_pin})["Location"] == "/"
    _page(client, "/", "Tap a product or scan a barcode to start.")
    assert client.post("/signout/")["Location"] == "/signin/"
    _page(client, "/signin/", "Who is on the till?")

    # shift change: the next person signs in on the same window, without signing the first one out
    assert client.post("/signin/", {"staff": cashier.pk, "pin": creds.cashier_pin})["Location"] == "/"
    assert client.post("/signin/", {"staff": manager.pk, "pin": creds.manager_pin})["Location"] == "/"
    _page(client, "/", "Morgan Manager")
    _page(client, "/reports/x/", "X report")
    client.post("/signout/")

    # the manager's back-office log-in and log-out
    _page(client, "/admin/login/", "Password")
    response = client.post(
        "/admin/login/", {"username": "manager", "password": creds.manager_password, "next": "/admin/"}
    )
    assert response["Location"] == "/admin/"
    _page(client, "/admin/", "Run the shop")
    _page(client, "/admin/pos/order/", "Select order to change")
    assert client.post("/admin/logout/").status_code == 200
    _page(client, "/admin/login/", "Password")
    _page(client, "/signin/", "Who is on the till?")
    assert client.post("/signin/", {"staff": cashier.pk, "pin": creds.cashier_pin})["Location"] == "/"
    _page(client, "/", "Casey Cashier")

    # and a browser without the proof is still refused
    for path in ["/", "/signin/", "/admin/login/"]:
        assert Client().get(path).status_code == 403


def test_a_forged_or_borrowed_proof_is_refused(db, launched, settings):
    from django.core import signing

    opened = _opened_client()
    assert opened.get("/signin/").status_code == 200

    unsigned = Client()
    unsigned.cookies[launch.COOKIE_NAME] = launch.launch_fingerprint()
    assert unsigned.get("/signin/").status_code == 403

    wrong_salt = Client()
    wrong_salt.cookies[launch.COOKIE_NAME] = signing.get_cookie_signer(salt="x").sign(launch.launch_fingerprint())
    assert wrong_salt.get("/signin/").status_code == 403

    session_only = Client()  # the session cookie alone is not the proof
    session_only.cookies[settings.SESSION_COOKIE_NAME] = opened.cookies[settings.SESSION_COOKIE_NAME].value
    assert session_only.get("/signin/").status_code == 403


def test_a_proof_from_an_earlier_launch_is_refused_even_after_sign_in(db, launched, settings):
    creds = demo.create_demo_data()
    client = _opened_client()
    cashier = StaffProfile.objects.get(user__username="cashier")
    client.post("/signin/", {"staff": cashier.pk, "pin": creds.cashier_pin})
    settings.AURSWIFT_LAUNCH_SECRET = "the-next-launch"
    assert client.get("/").status_code == 403
    assert client.get("/admin/login/").status_code == 403


# --- The same over real HTTP, on the running app ----------------------------------------------------------------


@pytest.mark.slow
def test_shift_change_over_http_never_locks_the_window(headless_app):
    import re

    headless_app.wait_for("Cashier  till PIN")
    creds = demo_credentials(headless_app.output)
    window = TillBrowser(headless_app.base)
    status, final, _ = window.request(headless_app.url[len(headless_app.base) :])
    assert status == 200 and final.startswith("/startup/")
    seen: dict[str, str] = {}

    def signin_page() -> bool:  # the start-up screen hands over to the till once the database is ready
        _status, seen["final"], seen["page"] = window.request("/signin/")
        return seen["final"] == "/signin/" and "Who is on the till?" in seen["page"]

    wait_until(signin_page, timeout=60, what="the till's sign-in page")
    page = seen["page"]
    staff = dict(
        (name, pk) for pk, name in re.findall(r'name="staff" value="(\d+)"[^>]*>\s*<span>([^<]+)<small>', page)
    )
    assert {"Casey Cashier", "Morgan Manager"} <= staff.keys(), staff

    # the cashier signs in, rings something up, signs out
    assert window.form("/signin/", {"staff": staff["Casey Cashier"], "pin": creds["cashier_pin"]})[1] == "/"
    window.page("/", "Casey Cashier")
    espresso = re.search(r'name="product" value="(\d+)"', window.request("/")[2]).group(1)
    status, final, page = window.form("/order/add/", {"product": espresso}, form_page="/")
    assert (status, final) == (200, "/") and "Order #" in page
    assert window.form("/signout/", {}, form_page="/")[1] == "/signin/"
    window.page("/signin/", "Who is on the till?")

    # shift change: the manager signs in on the same window, then the cashier again without a sign-out between
    assert window.form("/signin/", {"staff": staff["Morgan Manager"], "pin": creds["manager_pin"]})[1] == "/"
    window.page("/", "Morgan Manager")
    window.page("/reports/x/", "X report")
    assert window.form("/signin/", {"staff": staff["Casey Cashier"], "pin": creds["cashier_pin"]})[1] == "/"
    window.page("/", "Casey Cashier")
    window.form("/signout/", {}, form_page="/")

    # the manager's back-office log-in and log-out
    window.page("/admin/login/", "Password")
    login = {"username": creds["manager"], "password": creds["password"], "next": "/admin/"}
    status, final, page = window.form("/admin/login/", login)
    assert (status, final) == (200, "/admin/") and "Run the shop" in page
    window.page("/admin/pos/product/", "Cappuccino")
    status, _, page = window.form("/admin/logout/", {}, form_page="/admin/")
    assert status == 200 and "Logged out" in page
    window.page("/admin/login/", "Password")
    window.page("/signin/", "Who is on the till?")
    assert window.form("/signin/", {"staff": staff["Casey Cashier"], "pin": creds["cashier_pin"]})[1] == "/"
    window.page("/", "Casey Cashier")
    window.page("/reports/x/", "X report")

    # a browser without the proof, even holding the window's session cookie, is refused
    stranger = TillBrowser(headless_app.base)
    for path in ["/", "/signin/", "/admin/login/", "/reports/x/"]:
        status, _, page = stranger.request(path)
        assert status == 403 and "only available in the AurSwift window" in page, path
    borrowed = TillBrowser(headless_app.base)
    for cookie in window.jar:
        if cookie.name != "aurswift_launch":
            borrowed.jar.set_cookie(cookie)
    assert {c.name for c in borrowed.jar} >= {"aurswift_session", "csrftoken"}
    assert borrowed.request("/")[0] == 403
    # and the one-time path cannot hand out a second proof
    assert stranger.request(headless_app.url[len(headless_app.base) :])[0] == 403


@pytest.mark.slow
def test_pin_guesses_sent_in_parallel_are_limited_like_guesses_one_by_one(headless_app):
    """Twelve wrong PINs at once: at most five are checked, the manager is paused, the right PIN waits too."""
    import concurrent.futures
    import re

    from tests.helpers.till_http import open_till

    headless_app.wait_for("Cashier  till PIN")
    creds = demo_credentials(headless_app.output)
    window, staff = open_till(headless_app)
    status, _, page = window.request("/signin/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    wrong = "0000" if creds["manager_pin"] != "0000" else "1111"
    tabs = [window.clone() for _ in range(12)]

    def guess(tab) -> str:
        page = tab.request("/signin/", {"csrfmiddlewaretoken": token, "staff": staff["Morgan Manager"], "pin": wrong})[
            2
        ]
        return "checked" if "Wrong PIN" in page else "paused" if "Too many wrong PINs" in page else page[:200]

    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(guess, tabs))
    assert set(answers) <= {"checked", "paused"}, answers
    assert answers.count("checked") <= 4 and answers.count("paused") >= 8, answers  # the fifth wrong one pauses
    _, final, page = window.form("/signin/", {"staff": staff["Morgan Manager"], "pin": creds["manager_pin"]})
    assert final == "/signin/" and "Too many wrong PINs" in page, "paused: even the right PIN waits"
