"""`python manage.py bench`: the benchmark suite in tests/bench (see its docstring); a thin launcher.

The suite runs in its own process because it points Django at the dataset's database before settings load.
"""

import signal
import subprocess
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

ROOT = Path(__file__).resolve().parents[4]


class Command(BaseCommand):
    help = "Run the benchmark suite (dataset of 5M receipts at --scale 1; --scale 0.01 is a quick check)."

    def add_arguments(self, parser):
        parser.add_argument("--scale", default="1.0")
        parser.add_argument("--repeats")
        parser.add_argument("--processes")
        parser.add_argument("--only")
        parser.add_argument("--no-baselines", action="store_true")

    def handle(self, *args, **options):
        if not (ROOT / "tests" / "bench" / "suite.py").exists():
            raise CommandError("tests/bench is not in this checkout")
        argv = [sys.executable, "-m", "tests.bench.suite", "--scale", str(options["scale"])]
        for name in ("repeats", "processes", "only"):
            if options[name]:
                argv += [f"--{name}", str(options[name])]
        if options["no_baselines"]:
            argv.append("--no-baselines")
        child = subprocess.Popen(argv, cwd=ROOT)
        # pass a termination on, so the suite stops the servers it started
        signal.signal(signal.SIGTERM, lambda *_: child.terminate())
        code = child.wait()
        if code:
            raise CommandError(f"the benchmark suite exited with {code}")
