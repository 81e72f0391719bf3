"""Recompute every subject's grade (a full run), with a progress bar.

manage.py recompute_grades            start a run on the workers and return
manage.py recompute_grades --wait     start a run (or join the running one) and follow it
manage.py recompute_grades --inline   do the whole run in this process, no worker needed (demo, benchmarks)
manage.py recompute_grades --resume   re-dispatch the undone chunks of the running run
"""

import sys
import time
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from core.errors import Conflict
from credit.selectors import ratings as rating_selectors
from credit.services import ratings as rating_services

BAR_WIDTH = 30


def render(progress: dict) -> str:
    fraction = progress["percent"] / 100.0
    filled = int(round(fraction * BAR_WIDTH))
    bar = "#" * filled + "-" * (BAR_WIDTH - filled)
    return (
        f"run {progress['id']} [{bar}] {progress['percent']:5.1f}%  "
        f"{progress['done_chunks']}/{progress['total_chunks']} chunks  "
        f"{progress['done_subjects']}/{progress['total_subjects']} subjects  "
        f"{progress['elapsed_seconds']:.1f} s  {progress['status']}"
    )


class Command(BaseCommand):
    help = "Recompute every subject's score and grade in chunks, showing progress."

    def add_arguments(self, parser):
        parser.add_argument("--inline", action="store_true", help="Run every chunk in this process.")
        parser.add_argument("--wait", action="store_true", help="Follow the run until it ends.")
        parser.add_argument("--resume", action="store_true", help="Re-dispatch the running run's undone chunks.")
        parser.add_argument("--chunk-size", type=int, default=rating_services.DEFAULT_CHUNK_SIZE)
        parser.add_argument("--poll", type=float, default=1.0, help="Seconds between progress updates.")

    def _line(self, progress: dict, final: bool = False) -> None:
        tty = getattr(self.stdout, "isatty", lambda: False)() or sys.stdout.isatty()
        end = "\n" if final or not tty else ""
        prefix = "\r" if tty else ""
        self.stdout.write(prefix + render(progress), ending=end)
        self.stdout.flush()

    def handle(self, *args, inline, wait, resume, chunk_size, poll, **options):
        if inline:
            run = rating_services.run_full_recompute_inline(
                chunk_size=chunk_size, progress=lambda run: self._line(rating_selectors.run_progress(run))
            )
            self._line(rating_selectors.run_progress(run), final=True)
            return
        if resume:
            sent = rating_services.resume_stalled_runs(stalled_after=timedelta(0))
            self.stdout.write(f"Re-dispatched {sent} chunks.")
            if not wait:
                return
        run = rating_selectors.running_recompute_run()
        if run is None and not resume:
            try:
                run = rating_services.start_full_recompute(chunk_size=chunk_size)
            except Conflict as exc:
                raise CommandError(exc.message) from exc
            self.stdout.write(f"Started run {run.pk}: {run.total_subjects} subjects in {run.total_chunks} chunks.")
        elif run is not None:
            self.stdout.write(f"Run {run.pk} is already running.")
        if run is None or not wait:
            return
        while True:
            progress = rating_selectors.recompute_run_progress(run_id=run.pk)
            if progress["status"] != "running":
                self._line(progress, final=True)
                if progress["status"] == "failed":
                    raise CommandError(f"Run {run.pk} failed: {progress['error']}")
                return
            self._line(progress)
            time.sleep(poll)
