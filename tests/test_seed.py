import random

import numpy as np
import pytest
import torch

from transfer_utils.core.seed import seed_everything


def _draw(gen):
    return random.random(), np.random.rand(), torch.rand(1).item(), torch.rand(1, generator=gen).item()


def test_same_seed_same_draws_across_libraries():
    first = _draw(seed_everything(123))
    second = _draw(seed_everything(123))
    assert first == second
    assert _draw(seed_everything(124)) != first


def test_generator_matches_independent_generator():
    gen = seed_everything(7)
    ref = torch.Generator().manual_seed(7)
    torch.testing.assert_close(torch.randn(5, generator=gen), torch.randn(5, generator=ref))


@pytest.mark.parametrize("bad, err", [(-1, ValueError), (2**32, ValueError), (1.5, TypeError), ("3", TypeError), (True, TypeError)])
def test_bad_seed(bad, err):
    with pytest.raises(err):
        seed_everything(bad)
