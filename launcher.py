"""AurSwift desktop entry point: one instance, a private local server, the window.

``python launcher.py`` opens the till window; ``--headless`` serves the same
app without a window and prints the URL to open (docs/design.md section 7):

    Serving on http://127.0.0.1:<port>/launch/<one-time secret>/

Start-up order: take the single-instance lock → start waitress on a free
loopback port → show the start-up screen while the guarded database upgrade
runs in the background → the till (or a recovery page).
"""

from __future__ import annotations

import argparse
import faulthandler
import logging
import os
import secrets
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
log = logging.getLogger("aurswift.launcher")


def prepare_django(launch_secret: str) -> str | None:
    """Configure Django for this launch (the secret opens the window's session).

    Return what makes the configuration unusable, in one sentence, without
    starting Django; None once it is set up.
    """
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aurswift.settings")
    os.environ["AURSWIFT_LAUNCH_SECRET"] = launch_secret
    from aurswift import configuration

    problem = configuration.settings_problem()
    if problem is not None:
        return problem
    import django

    django.setup()
    return None


def start_server(host: str = "127.0.0.1"):
    """Start waitress on a free port of the loopback interface, in a thread."""
    from waitress.server import create_server

    from aurswift.wsgi import application

    server = create_server(application, host=host, port=0, threads=6, ident="AurSwift")
    threading.Thread(target=server.run, daemon=True, name="waitress").start()
    return server


def wait_until_ready(url: str, timeout: float = 10.0) -> None:
    """Wait until the server answers (it usually does at once)."""
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url + "static/pos/till.css", timeout=1).close()  # noqa: S310 - loopback
            return
        except (urllib.error.URLError, OSError):
            time.sleep(0.05)


def make_startup(instance) -> object:
    from django.conf import settings

    from aurswift import startup
    from maintenance import exceptions

    def blocker() -> exceptions.MaintenanceError | None:
        if instance.try_acquire():
            return None
        if instance.error is not None:
            return instance.error
        other = instance.other
        if other.description == "AurSwift":
            message = (
                f"AurSwift is already running (process {other.pid}). Use the window that is already open, "
                "or close it and press Retry."
            )
        else:
            message = (
                f"{other.description.capitalize()} is using the database (process {other.pid}). "
                "Wait for it to finish, then press Retry."
            )
        return exceptions.DatabaseLockedError(message, holder_pid=other.pid, holder_name=other.description)

    state = startup.Startup(
        max_attempts=settings.AURSWIFT_STARTUP_ATTEMPTS,
        instance_blocker=blocker,
        focus_token=instance.lock.focus_token,
        trial_version=os.environ.get("AURSWIFT_TRIAL_VERSION") or None,
    )
    startup.install(state)
    return state


class Instance:
    """The single-instance lock, taken lazily so a Retry can take it later."""

    def __init__(self, data_dir: Path) -> None:
        from aurswift.single_instance import InstanceLock

        self.lock = InstanceLock(data_dir)
        self.held = False
        self.other = None
        self.error = None
        self.port: int | None = None

    def try_acquire(self) -> bool:
        """Take the lock if free and publish our port; return whether we hold it."""
        from maintenance.exceptions import ReadOnlyError

        if not self.held:
            try:
                self.other = self.lock.acquire()
            except ReadOnlyError as err:  # shown on the start-up page, never a traceback
                self.error = err
                return False
            self.error = None
            self.held = self.other is None
            if self.held and self.port:
                self.lock.publish(self.port)
        return self.held


def open_window(url: str, state, quit_event: threading.Event) -> None:
    """Show the app in a pywebview window (Qt backend); return when it is closed (or Quit is chosen)."""
    os.environ.setdefault("QTWEBENGINE_CHROMIUM_FLAGS", "--no-sandbox")
    import webview

    window = webview.create_window("AurSwift", url, width=1280, height=800, min_size=(900, 600))

    def on_loaded() -> None:
        print(f"Page loaded: {window.get_current_url()}", flush=True)

    window.events.loaded += on_loaded
    state.on_focus = lambda: (window.restore(), window.show())

    def close_on_quit() -> None:
        quit_event.wait()
        window.destroy()

    threading.Thread(target=close_on_quit, daemon=True, name="quit-watcher").start()
    webview.start(gui="qt", debug=False, private_mode=False)


def run_management_command(argv: list[str]) -> int:
    """``aurswift manage <command> [args]``: run a Django management command; return its exit code.

    The same commands as ``python manage.py`` (docs/design.md section 7), so support
    and tests can drive an installed frozen bundle, which has no manage.py.
    """
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aurswift.settings")
    from aurswift import configuration

    problem = configuration.settings_problem(argv)
    if problem is not None:
        return configuration.refuse(problem, argv)
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(["aurswift manage", *argv])
    except SystemExit as stop:  # commands report their outcome with sys.exit(code)
        if stop.code is None or isinstance(stop.code, int):
            return stop.code or 0
        print(stop.code, file=sys.stderr)
        return 1
    return 0


STABLE_LAUNCHER_ENV = "AURSWIFT_STABLE_LAUNCHER"  # set by aurswift_stable.py for the versions it starts
STABLE_LAUNCHER = "aurswift-launcher.exe" if os.name == "nt" else "aurswift-launcher"


def stable_launchers() -> list[Path]:
    """The stable launchers a frozen bundle started on its own hands over to, in order (none: run here).

    A first install is the archive extracted somewhere, started as ``./aurswift``:
    without the stable launcher nothing would install an update on "Restart &
    Update" or fall back from a failed one. So a bundle that was not started by
    a stable launcher runs the one beside it, which starts the current version
    (this bundle, or an installed newer one). ``<name>.old``, kept while a new
    launcher takes over, stands in when ``<name>`` is missing or cannot start.
    """
    if not getattr(sys, "frozen", False) or os.environ.get(STABLE_LAUNCHER_ENV):
        return []
    home = Path(sys.executable).resolve().parent
    names = (STABLE_LAUNCHER, f"{STABLE_LAUNCHER}.old")
    return [home / name for name in names if (home / name).is_file() and os.access(home / name, os.X_OK)]


def hand_over_to_stable_launcher(argv: list[str]) -> None:
    """Run ``argv`` through the stable launcher beside this bundle, if there is one (does not return then)."""
    sys.stdout.flush()
    for launcher in stable_launchers():
        if os.name == "nt":  # no exec on Windows: wait for it and pass its exit code on
            import subprocess

            sys.exit(subprocess.call([str(launcher), *argv]))
        try:
            os.execv(str(launcher), [str(launcher), *argv])  # noqa: S606 - the launcher beside this bundle
        except OSError as err:  # not a runnable file (a damaged copy): the next one, else this bundle itself
            print(f"AurSwift: the stable launcher {launcher} cannot start ({err})", file=sys.stderr, flush=True)


def add_menu_entry() -> int:
    """``aurswift --add-menu-entry``: add AurSwift to this user's desktop menu (Linux desktops)."""
    if not sys.platform.startswith("linux"):
        print("AurSwift: a desktop menu entry is only added on Linux here.", file=sys.stderr)
        return 2
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from aurswift.desktop_entry import add_menu_entry as write_entry

    try:
        path = write_entry(ROOT)
    except OSError as err:
        print(f"AurSwift: the menu entry could not be written ({err.strerror or err}).", file=sys.stderr)
        return 2
    print(f"Added AurSwift to the desktop menu: {path}", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv == ["--add-menu-entry"]:  # before the hand-over: the entry points at what the shop started
        return add_menu_entry()
    hand_over_to_stable_launcher(argv)
    if argv[:1] == ["manage"]:
        return run_management_command(argv[1:])
    parser = argparse.ArgumentParser(
        description="AurSwift till and back-office",
        epilog="`%(prog)s manage <command> [args]` runs a management command (check_db, upgrade_db, check_update, …).",
    )
    parser.add_argument("--headless", action="store_true", help="serve without a window and print the URL")
    parser.add_argument(
        "--add-menu-entry", action="store_true", help="add AurSwift to the desktop menu (Linux) and quit"
    )
    args = parser.parse_args(argv)
    if hasattr(faulthandler, "register"):  # POSIX: `kill -USR1 <pid>` prints every thread's stack, for hangs
        import signal

        faulthandler.register(signal.SIGUSR1, all_threads=True)

    launch_secret = secrets.token_urlsafe(32)
    problem = prepare_django(launch_secret)
    if problem is not None:
        from aurswift import configuration

        return configuration.refuse(problem, [])
    from django.conf import settings

    from aurswift.single_instance import ask_to_focus

    instance = Instance(settings.DATA_DIR)
    state = make_startup(instance)
    server = start_server()
    port = int(server.effective_port)
    base = f"http://127.0.0.1:{port}/"
    wait_until_ready(base)
    instance.port = port
    if not instance.try_acquire() and instance.other is not None and not args.headless:
        ask_to_focus(instance.other)
    # Quit may come from the start-up thread at any time (a failed trial run), so wire it first.
    quit_event = threading.Event()
    state.on_quit = quit_event.set
    state.start()
    url = f"{base}launch/{launch_secret}/"
    log.info("serving on 127.0.0.1:%s", port)
    print(f"Serving on {url}", flush=True)

    try:
        if args.headless:
            quit_event.wait()
        else:
            open_window(url, state, quit_event)
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        instance.lock.release()
    return state.exit_code


if __name__ == "__main__":
    sys.exit(main())
