import importlib.metadata as md

from transfer_utils.datadir import KNOWN_DATASETS
from transfer_utils.report import environment_report, package_versions


def test_versions_match_installed_metadata():
    versions = package_versions()
    assert versions["torch"] == md.version("torch")
    assert versions["torchvision"] == md.version("torchvision")


def test_report_names_every_part(monkeypatch, tmp_path):
    (tmp_path / "USPS").mkdir()
    (tmp_path / "USPS" / "usps.t.bz2").write_bytes(b"")
    monkeypatch.setenv("TL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TL_OFFLINE", "1")
    monkeypatch.setenv("TL_PROFILE", "quick")
    report = environment_report()
    for needle in ("Versions: python", "Device: ", "Profile: quick", f"Data directory: {tmp_path}",
                   f"Cache directory: {tmp_path / 'cache'}", "Offline: yes"):
        assert needle in report, needle
    status = {l.strip()[:17].strip(): l for l in report.splitlines() if l.startswith("  ")}
    assert set(status) == set(KNOWN_DATASETS)
    assert status["USPS test"].rstrip().endswith("present")
    assert "missing" in status["MNIST"] and KNOWN_DATASETS["MNIST"].how_to_get in status["MNIST"]
