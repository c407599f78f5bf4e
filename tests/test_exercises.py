"""The exercise checks: right answers pass, stubs say "not done", wrong answers say where."""

import math

import numpy as np
import pytest
import torch

from transfer_utils.core.exercises import (ExerciseNotDone, ExerciseWrong, check_function, check_value,
                                           compare)


def test_compare_numbers_arrays_tensors():
    assert compare(1.0, 1.0 + 1e-9) is None
    assert compare(torch.ones(3), np.ones(3)) is None
    assert "shape" in compare(torch.ones(3), torch.ones(2))
    msg = compare(torch.tensor([1.0, 2.0, 3.5]), torch.tensor([1.0, 2.0, 3.0]))
    assert "answer[2]" in msg and "3.5" in msg and "1 of 3" in msg
    assert compare(float("nan"), float("nan")) is None


def test_compare_containers():
    assert compare((1, [2.0, torch.zeros(2)]), (1, [2.0, torch.zeros(2)])) is None
    assert "answer[1][0]" in compare((1, [2.5]), (1, [2.0]))
    assert "keys" in compare({"a": 1}, {"b": 1})
    assert "expected 'x'" in compare("y", "x")
    assert "still" in compare(..., 1.0)
    assert compare(True, True) is None and compare(np.bool_(False), False) is None
    assert compare(False, True) == "answer is False, expected True"
    assert "expected True" in compare(1, True)


def test_check_function_right_and_wrong():
    ref = lambda x: x ** 2  # noqa: E731
    assert check_function("1.1", lambda x: x * x, ref, [(torch.arange(3.0),), (2.0,)]) == 2
    with pytest.raises(ExerciseWrong, match=r"input #2 of 2.*Hint: square it"):
        check_function("1.1", lambda x: x * 2, ref, [(2.0,), (3.0,)], hint="square it")
    with pytest.raises(ExerciseWrong, match="return"):
        check_function("1.1", lambda x: None, ref, [(2.0,)])


def test_check_function_stub_is_not_done():
    def stub(x):
        raise NotImplementedError
    with pytest.raises(ExerciseNotDone, match="Exercise 2.3 is not done yet") as info:
        check_function("2.3", stub, math.sin, [(1.0,)])
    assert isinstance(info.value, NotImplementedError)
    with pytest.raises(ExerciseNotDone):
        check_function("2.3", lambda x: ..., math.sin, [(1.0,)])
    with pytest.raises(ValueError, match="no inputs"):
        check_function("2.3", math.sin, math.sin, [])


def test_check_value():
    check_value("3.1", 691, 691)
    with pytest.raises(ExerciseNotDone):
        check_value("3.1", ..., 691)
    with pytest.raises(ExerciseWrong, match="690.*691.*Hint: ceil"):
        check_value("3.1", 690, 691, hint="ceil")
    with pytest.raises(ExerciseWrong, match="NaN"):
        check_value("3.1", float("nan"), 1.0)
