"""What a learner meets in JupyterLab (the installed version): no news pop-up, one kernel that needs no
choosing, and notebooks that JupyterLab does not mark as changed when their kernel starts."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import jsonschema
import nbformat
import pytest
from ipykernel.ipkernel import IPythonKernel
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from jupyterlab.labapp import LabApp
from jupyterlab_server.settings_utils import get_settings

ROOT = Path(__file__).resolve().parents[1]
IPYNB = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
OVERRIDES = ROOT / "lab" / "overrides.json"
spec = importlib.util.spec_from_file_location("nbstrip", ROOT / "scripts" / "nbstrip.py")
nbstrip = importlib.util.module_from_spec(spec)
spec.loader.exec_module(nbstrip)


@pytest.fixture
def prefer_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """As `make lab` runs JupyterLab: the environment's kernels and settings before the user's."""
    monkeypatch.setenv("JUPYTER_PREFER_ENV_PATH", "1")


def test_the_overrides_name_real_settings_with_valid_values():
    schemas = Path(LabApp().schemas_dir)
    for plugin, values in json.loads(OVERRIDES.read_text()).items():
        package, _, name = plugin.partition(":")
        schema = json.loads((schemas / package / f"{name}.json").read_text())
        unknown = set(values) - set(schema["properties"])
        assert not unknown, f"{plugin} has no setting {sorted(unknown)} in JupyterLab {LabApp.version}"
        jsonschema.validate(values, schema)


def test_jupyterlab_reads_the_news_setting_from_the_overrides(tmp_path: Path):
    """JupyterLab's own settings code, pointed at a settings folder holding the course's overrides
    (`make setup` copies them to the venv's): the news feed is off by default, so no pop-up asks."""
    app_settings = tmp_path / "settings"
    app_settings.mkdir()
    shutil.copy(OVERRIDES, app_settings / "overrides.json")
    plugin = "@jupyterlab/apputils-extension:notification"
    for folder, expected in ((app_settings, "false"), (tmp_path / "none", "none")):
        settings, _ = get_settings(str(folder), LabApp().schemas_dir, str(tmp_path / "user"), schema_name=plugin)
        assert settings["schema"]["properties"]["fetchNews"]["default"] == expected  # "none": ask


def test_the_python3_kernel_is_this_python(prefer_env):
    """The kernel every notebook names resolves to the interpreter that runs Jupyter: the venv's."""
    kernel = KernelSpecManager().get_kernel_spec("python3")
    manager = KernelManager(kernel_name="python3")
    assert manager.format_kernel_cmd()[0] == sys.executable, kernel.argv


@pytest.mark.parametrize("path", IPYNB, ids=lambda p: p.name)
def test_a_kernel_start_changes_no_metadata(path: Path, prefer_env):
    """On kernel start JupyterLab writes the kernelspec (name, display name, language) and the
    kernel's language_info into the notebook, and marks it changed if either differs."""
    nb = nbformat.read(path, as_version=4)
    kernel = KernelSpecManager().get_kernel_spec("python3")
    assert nb.metadata.kernelspec == {"name": "python3", "display_name": kernel.display_name,
                                      "language": kernel.language}
    assert nb.metadata.get("language_info") == nbstrip.LANGUAGE_INFO, (
        f"{path.name}: run `python3 scripts/nbstrip.py --in-place {path.relative_to(ROOT)}`")


def test_the_stored_language_info_is_what_ipykernel_reports():
    reported = dict(IPythonKernel.language_info)
    stored = dict(nbstrip.LANGUAGE_INFO)
    assert {**reported, "version": None} == {**stored, "version": None}
    major, minor, _patch = (int(part) for part in stored["version"].split("."))
    assert (major, minor) >= (3, 10)
