"""Desktop entry point: start the local server and open the till window.

(First version: plain migrate and demo data; the guarded start-up replaces it.)
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import sys
import threading


def prepare_django(launch_secret: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aurswift.settings")
    os.environ["AURSWIFT_LAUNCH_SECRET"] = launch_secret
    import django

    django.setup()


def prepare_database() -> None:
    from django.core.management import call_command

    from pos.services import demo

    call_command("migrate", verbosity=0)
    if demo.needs_demo_data():
        print(demo.format_credentials(demo.create_demo_data()), flush=True)


def start_server():
    from waitress.server import create_server

    from aurswift.wsgi import application

    server = create_server(application, host="127.0.0.1", port=0, threads=4)
    threading.Thread(target=server.run, daemon=True, name="waitress").start()
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="AurSwift till and back-office")
    parser.add_argument("--headless", action="store_true", help="serve without a window; print the URL")
    args = parser.parse_args(argv)
    launch_secret = secrets.token_urlsafe(32)
    prepare_django(launch_secret)
    prepare_database()
    server = start_server()
    url = f"http://127.0.0.1:{int(server.effective_port)}/launch/{launch_secret}/"
    print(f"Serving on {url}", flush=True)
    if args.headless:
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
        return 0
    import webview

    webview.create_window("AurSwift", url, width=1280, height=800)
    webview.start(gui="qt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
