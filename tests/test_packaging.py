"""The install files agree with each other and with what is installed."""

from __future__ import annotations

import importlib.metadata as md
import re
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parents[1]


def _lock_lines() -> list[Requirement]:
    return [Requirement(line) for line in (ROOT / "requirements-lock.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")]


def _lock() -> dict[str, Requirement]:
    """The pins that apply to this interpreter and platform (markers evaluated)."""
    reqs = {}
    for req in _lock_lines():
        if req.marker is None or req.marker.evaluate():
            key = req.name.lower().replace("_", "-")
            assert key not in reqs, f"two pins of {key} apply at once"
            reqs[key] = req
    return reqs


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_lock_pins_exactly():
    for req in _lock_lines():
        specs = list(req.specifier)
        assert len(specs) == 1 and specs[0].operator == "==", f"{req.name} is not pinned exactly"


@pytest.mark.parametrize("python", ["3.10", "3.11", "3.12"])
def test_lock_has_one_pin_per_package_for_each_python(python):
    seen: dict[str, int] = {}
    env = {"python_version": python, "python_full_version": python + ".0", "sys_platform": "linux"}
    for req in _lock_lines():
        if req.marker is None or req.marker.evaluate(env):
            seen[req.name.lower()] = seen.get(req.name.lower(), 0) + 1
    assert {"torch", "torchvision", "numpy"} <= set(seen)
    assert all(n == 1 for n in seen.values()), {k: n for k, n in seen.items() if n > 1}


def test_lock_satisfies_pyproject_ranges():
    lock = _lock()
    project = _pyproject()["project"]
    for dep in project["dependencies"] + project["optional-dependencies"]["dev"]:
        req = Requirement(dep)
        if req.marker is not None and not req.marker.evaluate():
            continue
        key = req.name.lower().replace("_", "-")
        assert key in lock, f"{req.name} is in pyproject.toml but not in the lock; run `make lock`"
        pinned = next(iter(lock[key].specifier)).version
        assert req.specifier.contains(pinned, prereleases=True), f"{key}=={pinned} outside {req.specifier}"


def test_torch_and_torchvision_installed_are_the_locked_pair():
    """The lock pins both, the installed versions are those pins, and torchvision's compiled
    extension works with this torch (a mismatched pair fails to load its C++ ops)."""
    import torch
    import torchvision

    lock = _lock()
    for name, module in (("torch", torch), ("torchvision", torchvision)):
        assert name in lock, f"the lock does not pin {name}"
        specs = list(lock[name].specifier)
        assert len(specs) == 1 and specs[0].operator == "==", f"{name} is not pinned exactly"
        for have in (md.version(name), module.__version__):
            assert lock[name].specifier.contains(have, prereleases=True), (name, have, specs)
    # roi_align is a compiled op: on a constant feature map every pooled value is that constant
    feature = torch.full((1, 2, 8, 8), 3.0)
    pooled = torchvision.ops.roi_align(feature, [torch.tensor([[0.0, 0.0, 6.0, 6.0]])], output_size=2)
    assert pooled.shape == (1, 2, 2, 2)
    torch.testing.assert_close(pooled, torch.full_like(pooled, 3.0))


def test_installed_matches_lock():
    mismatched = []
    for name, req in _lock().items():
        if req.marker is not None and not req.marker.evaluate():
            continue
        try:
            have = md.version(name)
        except md.PackageNotFoundError:
            mismatched.append(f"{name} missing")
            continue
        if not req.specifier.contains(have, prereleases=True):
            mismatched.append(f"{name} {have} != {req.specifier}")
    assert not mismatched, f"installed set differs from the lock: {mismatched[:10]}; run `make setup`"


def test_torchvision_compiled_ops_work():
    import torch
    import torchvision

    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [1.0, 1.0, 11.0, 11.0], [50.0, 50.0, 60.0, 60.0]])
    keep = torchvision.ops.nms(boxes, torch.tensor([0.9, 0.8, 0.7]), iou_threshold=0.5)
    assert keep.tolist() == [0, 2]


def test_environment_yml_installs_the_same_pins():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    pip_block = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    assert "-r requirements-lock.txt" in pip_block and "-e .[dev]" in pip_block
    python = next(d for d in deps if isinstance(d, str) and d.startswith("python="))
    header = (ROOT / "requirements-lock.txt").read_text().splitlines()[1]
    made_with = re.findall(r"\d+\.\d+", re.search(r"Python (.+?) on ", header).group(1))
    assert python.split("=")[1] in made_with, f"environment.yml asks for {python}, the lock covers {made_with}"
    assert (ROOT / "pyproject.toml").is_file()


@pytest.mark.parametrize("dep", ["torch", "torchvision", "gpytorch", "matplotlib", "ipywidgets", "tqdm",
                                 "numpy", "scikit-learn"])
def test_pyproject_names_core_dependencies(dep):
    names = {Requirement(d).name for d in _pyproject()["project"]["dependencies"]}
    assert dep in names
