"""`make run`: prepare the database and demo data, then supervise web, worker and beat with prefixed logs.

Ctrl-C (or SIGTERM) stops every child process group and, when this command started it, the embedded PostgreSQL,
so nothing is left running.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from loyalty.embedded_postgres import server as embedded

COLOURS = {"web": "\033[36m", "worker": "\033[33m", "beat": "\033[35m", "run": "\033[32m"}
RESET = "\033[0m"


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen | None = None
    reader: threading.Thread | None = field(default=None, repr=False)


class Command(BaseCommand):
    help = "Migrate, load the demo data once, then run the web server, a Celery worker and beat together."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--no-demo", action="store_true", help="Do not create the demo account and data.")

    def handle(self, *args, host: str, port: int, no_demo: bool, **options):
        self._lock = threading.Lock()
        self._colour = sys.stdout.isatty()
        self._stopping = threading.Event()
        self._signalled = False
        data_dir = Path(settings.LOYALTY_DATA_DIR)
        started_db = False
        if settings.LOYALTY_EMBEDDED_DATABASE:
            started_db = embedded.hold(data_dir)
            self.say("run", f"embedded PostgreSQL {'started' if started_db else 'already running'} in {data_dir}")
        children: list[Child] = []
        try:
            self.say("run", "applying migrations")
            call_command("migrate", interactive=False, verbosity=0)
            if not no_demo:
                call_command("bootstrap_demo")
            python = sys.executable
            manage = str(Path(settings.BASE_DIR) / "manage.py")
            children = [
                Child("web", [python, manage, "runserver", f"{host}:{port}"]),
                Child("worker", [python, "-m", "celery", "-A", "loyalty", "worker", "-l", "INFO", "-c", "2"]),
                Child("beat", [python, "-m", "celery", "-A", "loyalty", "beat", "-l", "INFO", "--pidfile="]),
            ]
            # The handler only sets a flag: Event.set() takes a lock the interrupted main thread may hold inside
            # Event.wait(), and a Ctrl-C then hung the supervisor for good.
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                signal.signal(sig, self._on_signal)
            for child in children:
                self._start(child)
            threading.Thread(target=self._announce, args=(host, port), daemon=True).start()
            while not self._signalled and not self._stopping.is_set():
                for child in children:
                    if child.process and child.process.poll() is not None:
                        self.say("run", f"{child.name} exited with code {child.process.returncode}; stopping")
                        self._stopping.set()
                time.sleep(0.5)
            self._stopping.set()
        finally:
            self._stop_all(children)
            if settings.LOYALTY_EMBEDDED_DATABASE:
                from django.db import connections

                connections.close_all()
                if embedded.release(data_dir):
                    self.say("run", "embedded PostgreSQL stopped")
            self.say("run", "bye")

    # --- helpers ---------------------------------------------------------------------------------------------

    def _on_signal(self, *_: object) -> None:
        self._signalled = True

    def say(self, name: str, line: str) -> None:
        prefix = f"{name:>6} | "
        if self._colour:
            prefix = f"{COLOURS.get(name, '')}{prefix}{RESET}"
        with self._lock:
            sys.stdout.write(prefix + line.rstrip("\n") + "\n")
            sys.stdout.flush()

    def _start(self, child: Child) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        # A session of its own: the terminal's Ctrl-C reaches only us, and we stop each child's whole group.
        child.process = subprocess.Popen(
            child.argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
            text=True,
            bufsize=1,
        )
        child.reader = threading.Thread(target=self._pump, args=(child,), daemon=True)
        child.reader.start()

    def _pump(self, child: Child) -> None:
        assert child.process and child.process.stdout
        for line in child.process.stdout:
            self.say(child.name, line)

    def _stop_all(self, children: list[Child]) -> None:
        running = [c for c in children if c.process and c.process.poll() is None]
        for child in running:
            assert child.process
            # The leader shuts its own helpers down (Celery's pool, runserver's reloader child) gracefully.
            with contextlib.suppress(ProcessLookupError):
                child.process.terminate()
        deadline = time.monotonic() + 15
        for child in running:
            assert child.process
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.say("run", f"{child.name} did not stop in time; killing it")
        for child in children:
            # Grandchildren (runserver's reloader, prefork pool) share the group: make sure none survive.
            self._signal_group(child, signal.SIGKILL)
            if child.reader:
                child.reader.join(timeout=2)

    @staticmethod
    def _signal_group(child: Child, sig: signal.Signals) -> None:
        if child.process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.process.pid, sig)

    def _announce(self, host: str, port: int) -> None:
        url = f"http://{host}:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not self._stopping.is_set():
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:  # noqa: S310 - local URL
                    if response.status == 200:
                        self.say("run", f"ready: {url}/  (admin {url}/admin/, API docs {url}/api/docs/)")
                        self.say("run", "press Ctrl-C to stop everything")
                        return
            except OSError:
                pass
            time.sleep(0.5)
