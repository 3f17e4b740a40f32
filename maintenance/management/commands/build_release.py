"""``manage.py build_release --repo DIR [--keys KEYS]``: the next release, signed, in an update repository.

Prints the version on stdout. The signing keys live in KEYS (default: the
user's config folder, see docs/updates.md), never in DIR, which is hosted:
a DIR holding key material is refused (exit 2) and nothing is published.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from maintenance.management.base import MaintenanceCommand, Outcome
from maintenance.updates.keys import KEYS_ENV, default_keys_dir
from maintenance.updates.release import build_release


class Command(MaintenanceCommand):
    help = "Build the next release from conventional commits into an update repository (created if new)."
    json_option = False
    stopped_message = "The release may be partly written: check the repository and its tags before building again."

    def add_options(self, parser) -> None:
        parser.add_argument("--repo", type=Path, required=True, help="the update repository folder (hosted)")
        parser.add_argument(
            "--keys",
            type=Path,
            default=None,
            help=f"the signing keys folder, outside --repo (default: ${KEYS_ENV} or {default_keys_dir()}); "
            "development keys are created there when it is new",
        )
        parser.add_argument("--project", type=Path, default=None, help="the git work tree (default: this app)")
        parser.add_argument(
            "--bundle",
            action="store_true",
            help="build this platform's frozen bundle (packaging/build.py) and publish it for this platform",
        )

    def run(
        self,
        *,
        as_json: bool,
        repo: Path | None = None,
        keys: Path | None = None,
        project: Path | None = None,
        bundle: bool = False,
        **options,
    ) -> Outcome:
        assert repo is not None  # --repo is required by the parser
        release = build_release(
            (project or Path(settings.BASE_DIR)).resolve(),
            repo.expanduser().resolve(),
            keys.expanduser().resolve() if keys else None,
            bundle=bundle,
        )
        if release.created_keys:
            self.stderr.write(
                f"Created development signing keys ({', '.join(release.created_keys)}) in {release.keys_dir}; "
                "for releases other shops install, see maintenance/updates/KEYS.md."
            )
        for path in release.loose_permissions:
            self.stderr.write(f"Warning: {path} can be read by other users of this machine (chmod go-rwx).")
        self.stderr.write(f"Release notes:\n{release.notes}\nArchive: {release.archive}")
        self.stderr.write(f"Signing keys: {release.keys_dir}")
        if release.platform:
            self.stderr.write(f"Platform: {release.platform}")
        return Outcome(lines=[release.version], data={"version": release.version, "platform": release.platform})
