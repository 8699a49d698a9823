"""A dub's output is staged beside it under a lock: what a killed run left is removed by the next run, nothing else."""

import subprocess
import sys

import pytest

from talkinghead.jobs import dub

pytest.importorskip("fcntl", reason="advisory locks are POSIX")


def test_the_next_run_removes_only_stale_staging_files_of_its_output(tmp_path, capsys):
    output = tmp_path / "out.mp4"
    stale = tmp_path / ".out.0123abcd.partial.mp4"  # a killed run's: nobody holds it
    busy = tmp_path / ".out.89abcdef.partial.mp4"  # a run still writing: its process holds the lock
    others = [tmp_path / ".other.0123abcd.partial.mp4", tmp_path / "out.partial.mp4", tmp_path / ".out.xyz.partial.mp4",
              tmp_path / ".out.0123abcd.partial.mov", tmp_path / "out.mp4.bak"]
    for path in [stale, busy, *others]:
        path.write_bytes(b"frames")
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys, time\n"
        f"fd = os.open({str(busy)!r}, os.O_RDONLY); fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "print('held', flush=True); time.sleep(30)")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with dub._staging(output) as staging:
            staging.write_bytes(b"new frames")
    finally:
        holder.kill()
        holder.wait()
    assert output.read_bytes() == b"new frames"
    assert not stale.exists() and busy.exists() and all(path.exists() for path in others)
    err = capsys.readouterr().err
    assert err == f"talkinghead: removed {stale.name}, left in {tmp_path} by an interrupted run\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([output.name, busy.name, *(p.name for p in others)])
