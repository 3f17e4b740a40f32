"""Staged releases are chosen by version order, not by their folders' names."""

from __future__ import annotations

import json

from maintenance.updates import install


def test_the_newest_staged_release_is_chosen_as_a_version_and_odd_folders_never_win(tmp_path):
    staged = tmp_path / "updates" / "staged"
    for name in ("0.9.0", "0.10.0", "0.10.0rc1", "not-a-version", ".partial-1.0.0"):
        (staged / name).mkdir(parents=True)
        (staged / name / "staged.json").write_text(json.dumps({"version": name}))
    assert install.staged_version(tmp_path) == "0.10.0"  # "0.9.0" is the larger string
    for name in ("0.10.0", "0.10.0rc1"):
        (staged / name / "staged.json").unlink()
    assert install.staged_version(tmp_path) == "0.9.0", "a folder whose name is not a version sorts below any"
