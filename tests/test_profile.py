import pytest
import torch

from transfer_utils.core.profile import PROFILES, get_profile


def test_default_quick_on_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    assert get_profile().name == "quick"


def test_default_without_ci_follows_gpu(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    assert get_profile().name == ("full" if torch.cuda.is_available() else "quick")


def test_ci_false_is_not_ci(monkeypatch):
    monkeypatch.setenv("CI", "false")
    assert get_profile().name == ("full" if torch.cuda.is_available() else "quick")


def test_env_override(monkeypatch):
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("TL_PROFILE", "Full")
    assert get_profile() is PROFILES["full"]


def test_unknown_profile_is_clear(monkeypatch):
    with pytest.raises(ValueError, match="Known profiles: quick, full"):
        get_profile("fast")
    monkeypatch.setenv("TL_PROFILE", "paper")
    with pytest.raises(ValueError, match=r"\$TL_PROFILE"):
        get_profile()


def test_pick_and_seeds():
    quick, full = get_profile("quick"), get_profile("full")
    assert quick.pick(quick=1, full=2) == 1 and full.pick(quick=1, full=2) == 2
    assert quick.is_quick and not full.is_quick
    assert len(quick.seeds) >= 3 and set(quick.seeds) <= set(full.seeds)
    with pytest.raises(TypeError):
        quick.pick(1, 2)  # keyword-only, so a notebook reads plainly


def test_seeds_env_overrides_every_profile(monkeypatch):
    monkeypatch.setenv("TL_SEEDS", " 7, 8,9 ")
    for name in ("quick", "full"):
        profile = get_profile(name)
        assert profile.seeds == (7, 8, 9) and profile.seed == 7 and profile.name == name
    monkeypatch.setenv("TL_SEEDS", "")
    assert get_profile("quick").seeds == PROFILES["quick"].seeds


@pytest.mark.parametrize("bad, match", [(",", "lists no seeds"), ("1,x", "not an integer"),
                                        ("-1", "out of range"), ("3,3", "repeated")])
def test_bad_seeds_are_refused_clearly(monkeypatch, bad, match):
    monkeypatch.setenv("TL_SEEDS", bad)
    with pytest.raises(ValueError, match=match) as err:
        get_profile("quick")
    assert "TL_SEEDS=7,8,9" in str(err.value)


def test_first_seed_is_the_profiles_first():
    assert get_profile("quick").seed == get_profile("quick").seeds[0]
