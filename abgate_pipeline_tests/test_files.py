"""Published files get the mode a plain open() would give them under the user's umask."""

import os

import pytest

from abgate_pipeline.files import new_file_mode, write_atomically


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_written_files_follow_the_umask(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        assert new_file_mode() == mode
        target = tmp_path / "report.html"
        write_atomically({target: b"<p>hi</p>", tmp_path / "decision.json": b"{}"})
        assert target.read_bytes() == b"<p>hi</p>"
        assert {p.stat().st_mode & 0o777 for p in tmp_path.iterdir()} == {mode}
        assert sorted(p.name for p in tmp_path.iterdir()) == ["decision.json", "report.html"]
    finally:
        os.umask(previous)


def test_an_explicit_mode_wins(tmp_path):
    target = tmp_path / "flags.json"
    write_atomically({target: b"{}"}, mode=0o640)
    assert target.stat().st_mode & 0o777 == 0o640
