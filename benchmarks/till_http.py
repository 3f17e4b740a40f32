"""Time whole sales on the real till over loopback HTTP: ``python -m benchmarks.till_http --orders N [N …]``.

For each N, a shop database with N past orders (``benchmarks.generate``,
kept under ``benchmarks/out/till-http/orders-N`` and reused) is copied to a
scratch folder, a cashier PIN is set with ``manage.py shell -c``, and the real
app is started headless (``launcher.py --headless``, as tests/conftest.py's
``start_headless`` does). A client on the same machine then opens the
window's launch URL, signs in with the PIN and rings up sales the way the
till's page does:

* ``fetch`` (the till with its script): add ×3 answered with the basket
  fragment, pay answered with the receipt page itself (a checkout whose
  till answers the script's payment with a redirect gets it followed, as its
  page did with a form post);
* ``form`` (no script, and every version before the fragment): add ×3, each
  redirected to a whole till page, pay, the receipt.

One kept-alive connection with cookies, like a browser. Each sale is timed
from the first add to the receipt's last byte; the till page loaded for the
next customer is timed apart ("next"). Prints p50/p99 per sale and one JSON
line per database and mode (for benchmarks/run.py).

``--app-root DIR`` serves another checkout (e.g. ``git worktree add`` of an
older commit) against the same databases: before/after figures from one run.
Every checkout and database size is served at once and their sales take
turns, so the load of anything else on the machine falls on all alike.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from http.cookies import SimpleCookie
from pathlib import Path

from benchmarks.generate import ROOT, app_env, generate

OUT = ROOT / "benchmarks" / "out" / "till-http"
PIN = "2580"
SET_PIN = (
    "from pos.models import StaffProfile; from pos.services import pins; "
    f"pins.set_pin(StaffProfile.objects.get(user__username='cashier'), '{PIN}')"
)
FRAGMENT_HEADERS = {"X-Requested-With": "fetch", "Accept": "text/html-fragment"}


class Client:
    """A browser's worth of HTTP for these pages: one kept-alive connection, cookies, redirects followed."""

    def __init__(self, base: str) -> None:
        parts = urllib.parse.urlsplit(base)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.cookies: dict[str, str] = {}
        self.headers: http.client.HTTPMessage = http.client.HTTPMessage()  # of the last response
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)

    def _send(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> http.client.HTTPResponse:
        headers = {"Host": f"{self.host}:{self.port}", **headers}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                if attempt == 2:
                    raise
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        for header in response.msg.get_all("Set-Cookie") or []:
            jar = SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                if morsel["max-age"] == "0" or (morsel["expires"] and "1970" in morsel["expires"]):
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return response

    def request(
        self, path: str, data: dict[str, str] | None = None, headers: dict[str, str] | None = None, follow=True
    ) -> tuple[int, str, str]:
        """Return (status, path, body); a redirect after a POST is followed with a GET, as browsers do."""
        method, body = ("POST", urllib.parse.urlencode(data).encode()) if data is not None else ("GET", None)
        extra = dict(headers or {})
        if body is not None:
            extra["Content-Type"] = "application/x-www-form-urlencoded"
        for _ in range(10):
            response = self._send(method, path, body, extra)
            text = response.read().decode()
            self.headers = response.msg
            if follow and response.status in (301, 302, 303) and response.getheader("Location"):
                path = urllib.parse.urljoin(path, response.getheader("Location"))
                method, body, extra = "GET", None, {}
                continue
            return response.status, path, text
        raise RuntimeError(f"too many redirects at {path}")


def _csrf(page: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert match, page[:500]
    return match.group(1)


class App:
    """``launcher.py --headless`` on a data directory (like tests/conftest.py's start_headless)."""

    def __init__(self, data_dir: Path, root: Path) -> None:
        env = app_env(data_dir)
        env["PYTHONUNBUFFERED"] = "1"
        self.proc = subprocess.Popen(
            [sys.executable, str(root / "launcher.py"), "--headless"],
            cwd=root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.output: list[str] = []
        found = threading.Event()

        def pump() -> None:
            for line in self.proc.stdout:  # type: ignore[union-attr]
                self.output.append(line.rstrip("\n"))
                if line.startswith("Serving on "):
                    found.set()

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + 180
        while not found.wait(0.1):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the app did not start:\n" + "\n".join(self.output))
        self.launch_cookie: str | None = None
        self.url = next(line for line in self.output if line.startswith("Serving on ")).split(" ", 2)[2]
        self.base = "/".join(self.url.split("/")[:3])

    def stop(self) -> None:
        import signal

        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=20)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


LAUNCH_COOKIE = "aurswift_launch"


def sign_in(app: App) -> Client:
    """Return a client signed in as the cashier: the window's launch proof (the one-time URL), then the PIN."""
    client = Client(app.base)
    if app.launch_cookie is None:
        status, _, page = client.request(urllib.parse.urlsplit(app.url).path)
        assert status == 200 and LAUNCH_COOKIE in client.cookies, (status, page[:300])
        app.launch_cookie = client.cookies[LAUNCH_COOKIE]
    client.cookies[LAUNCH_COOKIE] = app.launch_cookie  # another tab of the same window
    deadline = time.monotonic() + 180
    while True:  # the start-up screen hands over to the till once the database is ready
        status, final, page = client.request("/signin/")
        if final == "/signin/" and "Who is on the till?" in page:
            break
        assert time.monotonic() < deadline, (status, final, page[:300])
        time.sleep(0.3)
    staff = {name.strip(): pk for pk, name in re.findall(r'name="staff" value="(\d+)"[^>]*>\s*<span>([^<]+)<', page)}
    cashier = staff.get("Casey Cashier") or next(iter(staff.values()))
    status, final, page = client.request("/signin/", {"csrfmiddlewaretoken": _csrf(page), "staff": cashier, "pin": PIN})
    assert final == "/" and "basket-title" in page, (status, final, page[:500])
    return client


def answers_fragments(client: Client) -> bool:
    """Return True if this till answers the script's "add" with the basket (an older one redirects)."""
    _, _, page = client.request("/")
    product = re.search(r'name="product" value="(\d+)"', page)
    assert product, page[:500]
    form = {"csrfmiddlewaretoken": _csrf(page), "product": product.group(1), "next": "/"}
    status, _, _ = client.request("/order/add/", form, headers=FRAGMENT_HEADERS, follow=False)
    return status == 200  # the item stays in the basket of the first (untimed) sale


def _percentile(sorted_values: list[float], q: float) -> float:
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


class Seller:
    """One till client ringing up sales in one mode; times each sale."""

    def __init__(self, client: Client, mode: str) -> None:
        self.client, self.mode = client, mode
        _, _, page = client.request("/")
        self.token = _csrf(page)
        self.products = re.findall(r'name="product" value="(\d+)"', page)
        assert len(self.products) >= 5, page[:500]
        self.sales: list[float] = []
        self.adds: list[float] = []
        self.pays: list[float] = []
        self.nexts: list[float] = []

    def sale(self, i: int, timed: bool) -> None:
        client = self.client
        started = time.perf_counter()
        adds = []
        for product in self.products[i % 5 : i % 5 + 3]:
            t = time.perf_counter()
            form = {"csrfmiddlewaretoken": self.token, "product": product, "next": "/"}
            if self.mode == "fetch":
                status, final, text = client.request("/order/add/", form, headers=FRAGMENT_HEADERS)
                assert status == 200 and 'id="order-total"' in text and final == "/order/add/", (status, text[:300])
            else:
                status, final, text = client.request("/order/add/", form)
                assert status == 200 and final == "/" and 'id="order-total"' in text, (status, final, text[:300])
            adds.append(time.perf_counter() - t)
        t = time.perf_counter()
        form = {"csrfmiddlewaretoken": self.token, "quick": "exact"}
        if self.mode == "fetch":
            status, final, text = client.request("/order/pay/", form, headers=FRAGMENT_HEADERS)
            shown = client.headers.get("X-Till-Page") or final  # the receipt's address, or where a redirect led
        else:
            status, final, text = client.request("/order/pay/", form)
            shown = final
        assert status == 200 and shown.startswith("/receipt/") and 'id="receipt-total"' in text, (status, shown)
        pay = time.perf_counter() - t
        elapsed = time.perf_counter() - started
        t = time.perf_counter()
        status, final, text = client.request("/")  # "Next customer"
        assert status == 200 and "Tap a product" in text, (status, final)
        if timed:
            self.sales.append(elapsed)
            self.adds += adds
            self.pays.append(pay)
            self.nexts.append(time.perf_counter() - t)

    def figures(self) -> dict:
        sales, ms = sorted(self.sales), 1000
        return {
            "mode": self.mode,
            "sales": len(sales),
            "sale_p50_ms": statistics.median(sales) * ms,
            "sale_p99_ms": _percentile(sales, 0.99) * ms,
            "sale_max_ms": sales[-1] * ms,
            "add_p50_ms": statistics.median(self.adds) * ms,
            "pay_and_receipt_p50_ms": statistics.median(self.pays) * ms,
            "next_customer_page_p50_ms": statistics.median(self.nexts) * ms,
        }


def database(orders: int) -> Path:
    """Return the folder of a pristine generated database with ``orders`` past orders (made once)."""
    base = OUT / f"orders-{orders}"
    if not (base / "pos_system.db").exists():
        print(f"generating {orders:,} orders…", flush=True)
        started = time.perf_counter()
        shutil.rmtree(base, ignore_errors=True)
        generate(base, orders)
        print(f"  {time.perf_counter() - started:.0f} s", flush=True)
    return base


def manage_shell(data_dir: Path, code: str) -> None:
    """Run ``code`` in ``manage.py shell`` against the database in ``data_dir`` (a PIN, a password)."""
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "shell", "-c", code],
        cwd=ROOT,
        env=app_env(data_dir),
        check=True,
        capture_output=True,
    )


def scratch_copy(base: Path, name: str) -> Path:
    target = OUT / name
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    shutil.copyfile(base / "pos_system.db", target / "pos_system.db")
    manage_shell(target, SET_PIN)
    return target


def measure(sizes: list[int], modes: list[str], count: int, roots: dict[str, Path], warmup: int = 20) -> list[dict]:
    """Serve each checkout on its own copy of each database at once; alternate their sales, one each in turn.

    All of them in one loop, so that load from elsewhere on the machine slows
    every checkout and every database size alike: "flat in database size" and
    "faster than before" are read from the same seconds.
    """
    apps: dict[tuple[str, int], App] = {}
    sellers: list[tuple[str, int, Seller]] = []
    sizes_mb: dict[int, float] = {}
    try:
        for orders in sizes:
            base = database(orders)
            sizes_mb[orders] = (base / "pos_system.db").stat().st_size / 1e6
            for label, root in roots.items():
                app = apps[label, orders] = App(scratch_copy(base, f"run-{label}-{orders}"), root)
                for mode in modes:
                    client = sign_in(app)
                    if mode == "fetch" and not answers_fragments(client):
                        print(f"{label:>8} {mode:>5} | no basket fragment (a fetch is redirected): skipped", flush=True)
                        continue
                    sellers.append((label, orders, Seller(client, mode)))
        for i in range(warmup + count):  # interleaved: a noisy machine slows them all alike
            for _, _, seller in sellers:
                seller.sale(i, timed=i >= warmup)
    finally:
        for (label, orders), app in apps.items():
            app.stop()
            shutil.rmtree(OUT / f"run-{label}-{orders}", ignore_errors=True)
    results = []
    for label, orders, seller in sellers:
        size_mb = sizes_mb[orders]
        result = seller.figures() | {"app": label, "past_orders": orders, "db_mb": round(size_mb, 1)}
        results.append(result)
        print(
            f"{label:>8} {seller.mode:>5} | {orders:>9,} past orders ({size_mb:,.0f} MB) | sale p50 "
            f"{result['sale_p50_ms']:6.1f} ms  p99 {result['sale_p99_ms']:6.1f} ms  max {result['sale_max_ms']:6.1f}"
            f" | add p50 {result['add_p50_ms']:5.1f} ms, pay+receipt {result['pay_and_receipt_p50_ms']:5.1f} ms,"
            f" next-customer page {result['next_customer_page_p50_ms']:5.1f} ms",
            flush=True,
        )
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--orders", type=int, nargs="+", default=[100, 100_000], help="past orders (a database each, served at once)"
    )
    parser.add_argument("--sales", type=int, default=200, help="timed sales per client (after 20 untimed)")
    parser.add_argument("--mode", choices=["fetch", "form", "both"], default="both")
    parser.add_argument(
        "--app-root", type=Path, action="append", default=[], help="also serve this checkout (label: its folder name)"
    )
    args = parser.parse_args(argv)
    modes = ["fetch", "form"] if args.mode == "both" else [args.mode]
    roots = {"this": ROOT} | {path.name: path.resolve() for path in args.app_root}
    print("a sale = add ×3, pay (exact cash), receipt; over loopback HTTP, one kept-alive connection", flush=True)
    load_before = os.getloadavg()
    results = measure(args.orders, modes, args.sales, roots)
    load = {"before": [round(x, 2) for x in load_before], "after": [round(x, 2) for x in os.getloadavg()]}
    print(f"load average (1, 5, 15 min) before {load['before']}, after {load['after']} on {os.cpu_count()} CPUs")
    for result in results:
        print(json.dumps(result | {"load": load}))
    target = [r for r in results if r["app"] == "this" and r["mode"] == "fetch"]
    if target:
        worst_p50 = max(r["sale_p50_ms"] for r in target)
        worst_p99 = max(r["sale_p99_ms"] for r in target)
        ratio = target[-1]["sale_p50_ms"] / target[0]["sale_p50_ms"]
        print(
            f"target: sale p50 ≤ 25 ms (worst {worst_p50:.1f}), p99 ≤ 50 ms (worst {worst_p99:.1f}), "
            f"flat in size (p50 largest/smallest database {ratio:.2f})"
        )


if __name__ == "__main__":
    main()
