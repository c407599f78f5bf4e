"""Atomic writes, and the removal of what a killed writer leaves behind."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from transfer_utils.core import atomic
from transfer_utils.core.atomic import STALE_AGE_S, atomic_path, clean_cache_once, remove_stale_temp


def test_writes_and_replaces(tmp_path):
    target = tmp_path / "sub" / "f.txt"
    with atomic_path(target) as tmp:
        tmp.write_text("one")
        assert not target.exists()
    assert target.read_text() == "one"
    with atomic_path(target) as tmp:
        tmp.write_text("two")
    assert target.read_text() == "two"
    assert [p.name for p in target.parent.iterdir()] == ["f.txt"]


def test_interrupted_write_leaves_old_file(tmp_path):
    target = tmp_path / "f.txt"
    target.write_text("old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise KeyboardInterrupt
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


# ---- stale temporary files left by a killed run ------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]


def _dead_pid() -> int:
    """The id of a process that has exited (the child of a finished subprocess)."""
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(proc.stdout)


def _age(path: Path, seconds: float) -> Path:
    stamp = time.time() - seconds
    os.utime(path, (stamp, stamp))
    return path


def _file(path: Path, old: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x")
    return _age(path, 2 * STALE_AGE_S) if old else path


def test_only_the_course_s_stale_names_are_removed(tmp_path):
    dead, live = _dead_pid(), os.getpid()
    gone = [
        _file(tmp_path / f".model.pt.{dead}.ab_cd3fg.tmp"),            # writer gone
        _file(tmp_path / ".model.pt.abcd1234.tmp", old=True),          # old-style name, old
        _file(tmp_path / "models" / f".digit.pt.{live}.zz99zz99.tmp", old=True),  # old, live pid
        _file(tmp_path / ".tl-write-test-k2j4h6g8", old=True),         # cache_dir()'s probe
    ]
    for name in (f".cifar10_jpg.{dead}.a1b2c3d4.tmp", f".cifar10_jpg.old-{dead}",
                 ".cifar10_jpg.q1w2e3r4.tmp", f".all-MiniLM-L6-v2.{dead}.a1b2c3d4.tmp",
                 f".all-MiniLM-L6-v2.old-{dead}"):
        folder = tmp_path / name
        _file(folder / "train" / "cat" / "0.jpg")
        gone.append(_age(folder, 2 * STALE_AGE_S) if ".tmp" in name and str(dead) not in name else folder)
    kept = [
        _file(tmp_path / f".model.pt.{live}.abcd1234.tmp"),            # a live writer's file
        _file(tmp_path / ".model.pt.abcd1234.tmp.keep"),
        _file(tmp_path / ".model.pt.ABCD1234.tmp", old=True),          # not tempfile's alphabet
        _file(tmp_path / ".model.pt.tmp", old=True),                   # no random part
        _file(tmp_path / "notes.abcd1234.tmp", old=True),              # no leading dot
        _file(tmp_path / "model.pt", old=True),
        _file(tmp_path / ".tl-write-test-k2j4h6g8x", old=True),
        _file(tmp_path / "cifar10_jpg" / "train" / ".x.abcd1234.tmp", old=True),  # never walked
    ]
    (tmp_path / f".other-model.{dead}.abcd1234.tmp").mkdir()           # a folder not of the course
    kept.append(tmp_path / f".other-model.{dead}.abcd1234.tmp")
    (tmp_path / ".cifar10_jpg.abcd1234.tmp.d").mkdir()                  # not a course name
    kept.append(_age(tmp_path / ".cifar10_jpg.abcd1234.tmp.d", 2 * STALE_AGE_S))
    removed = remove_stale_temp(tmp_path)
    assert sorted(removed) == sorted(gone)
    assert not any(p.exists() for p in gone)
    assert all(p.exists() for p in kept)
    assert remove_stale_temp(tmp_path) == []


def test_a_live_writer_s_young_file_is_kept(tmp_path):
    young = _file(tmp_path / ".model.pt.abcd1234.tmp")  # no pid, younger than STALE_AGE_S
    assert remove_stale_temp(tmp_path) == [] and young.exists()
    assert remove_stale_temp(tmp_path, max_age_s=-1) == [young]


def test_the_temporary_name_carries_the_pid(tmp_path):
    with atomic_path(tmp_path / "f.pt") as tmp:
        assert tmp.name.startswith(f".f.pt.{os.getpid()}.") and tmp.name.endswith(".tmp")
        assert atomic._PATTERNS[0][0].fullmatch(tmp.name)


def test_a_killed_writer_s_file_is_removed_by_the_next_save_into_the_cache(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    code = ("import sys, time\n"
            "from transfer_utils.core.atomic import atomic_path\n"
            "with atomic_path(sys.argv[1]) as tmp:\n"
            "    tmp.write_text('half'); print(tmp.name, flush=True); time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(cache / "models" / "m.pt")],
                            stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT), "TL_CACHE_DIR": str(cache)})
    try:
        leftover = cache / "models" / proc.stdout.readline().strip()
        assert leftover.is_file()
    finally:
        proc.kill()
        proc.wait()
    assert leftover.is_file()  # killed: nothing removed it
    outside = _file(tmp_path / "elsewhere" / leftover.name)  # same name outside the cache
    monkeypatch.setenv("TL_CACHE_DIR", str(cache))
    monkeypatch.setattr(atomic, "_CLEANED", set())
    with atomic_path(tmp_path / "elsewhere" / "other.txt") as tmp:  # not the cache: no cleaning
        tmp.write_text("ok")
    assert leftover.is_file() and outside.is_file()
    with atomic_path(cache / "features" / "f.pt") as tmp:
        tmp.write_text("ok")
    assert not leftover.exists() and (cache / "features" / "f.pt").read_text() == "ok"
    assert outside.is_file()


def test_cleaning_runs_once_per_process_and_directory(tmp_path, monkeypatch):
    monkeypatch.setattr(atomic, "_CLEANED", set())
    first = _file(tmp_path / ".a.abcd1234.tmp", old=True)
    assert clean_cache_once(tmp_path) == [first]
    _file(tmp_path / ".b.abcd1234.tmp", old=True)
    assert clean_cache_once(tmp_path) == []  # already cleaned by this process
