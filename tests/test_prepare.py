import pytest

from transfer_utils import prepare


def test_runs_every_step_in_order_and_reports(monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(prepare, "STEPS", [("first", "os.path:sep"), ("second", "os:getcwd")])
    monkeypatch.setattr(prepare, "_resolve", lambda target: lambda: calls.append(target) or f"built {target}")
    prepare.main()
    out = capsys.readouterr().out
    assert calls == ["os.path:sep", "os:getcwd"]
    assert "prepare: first: built os.path:sep" in out and "prepare: done in" in out


def test_every_registered_step_resolves_to_a_function():
    for what, target in prepare.STEPS:
        assert callable(prepare._resolve(target)), what


def test_a_failing_step_stops_the_run(monkeypatch):
    def boom():
        raise RuntimeError("dataset missing")

    monkeypatch.setattr(prepare, "STEPS", [("broken", "x:y")])
    monkeypatch.setattr(prepare, "_resolve", lambda target: boom)
    with pytest.raises(RuntimeError, match="dataset missing"):
        prepare.main()
