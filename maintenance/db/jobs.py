"""Background jobs for the admin pages (a backup of a large database takes a while)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from maintenance.db.progress import Progress


@dataclass
class Job:
    name: str
    running: bool = True
    progress: Progress | None = None
    result: str = ""
    error: str = ""
    reported: bool = False
    _thread: threading.Thread | None = field(default=None, repr=False)

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "running": self.running,
            "result": self.result,
            "error": self.error,
            "percent": self.progress.percent if self.progress else 0,
            "message": self.progress.message if self.progress else "",
        }


_jobs: dict[str, Job] = {}
_lock = threading.Lock()


def start(name: str, work) -> Job:
    """Run ``work(progress_callback) -> str`` in a thread unless a job of that name is running."""
    with _lock:
        current = _jobs.get(name)
        if current and current.running:
            return current
        job = Job(name)
        _jobs[name] = job

    def report(progress: Progress) -> None:
        job.progress = progress

    def run() -> None:
        from django.db import connections

        try:
            job.result = work(report)
        except Exception as err:  # noqa: BLE001 - shown to the manager
            job.error = getattr(err, "message", str(err))
        finally:
            job.running = False
            connections.close_all()

    job._thread = threading.Thread(target=run, name=f"job-{name}", daemon=True)
    job._thread.start()
    return job


def get(name: str) -> Job | None:
    return _jobs.get(name)


def take_outcome(name: str) -> Job | None:
    """Return a finished job once, so its page can say how it ended exactly one time."""
    with _lock:
        job = _jobs.get(name)
        if job is None or job.running or job.reported:
            return None
        job.reported = True
        return job
