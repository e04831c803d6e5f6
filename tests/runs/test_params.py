"""The parameter checks every run kind shares."""

from __future__ import annotations

import pytest

from crm_bank.runs.errors import RunParamsInvalid
from crm_bank.runs.params import params_chunk_size, params_unknown_refuse


def test_params_unknown_refuse_names_every_unknown_parameter():
    params_unknown_refuse({"chunk_size": 5}, allowed={"chunk_size"})
    with pytest.raises(RunParamsInvalid, match="Unknown parameters: k, zeta"):
        params_unknown_refuse({"zeta": 1, "k": 2, "chunk_size": 5}, allowed={"chunk_size"})


@pytest.mark.parametrize("value", ["x", None, [], 0, -3, "1.5"])
def test_params_chunk_size_refuses_what_is_not_a_whole_number_above_the_minimum(value):
    with pytest.raises(RunParamsInvalid, match="at least 1"):
        params_chunk_size({"chunk_size": value}, default=100)


def test_params_chunk_size_takes_the_default_and_a_custom_minimum():
    assert params_chunk_size({}, default=100) == 100
    assert params_chunk_size({"chunk_size": "7"}, default=100) == 7
    with pytest.raises(RunParamsInvalid, match="two"):
        params_chunk_size({"chunk_size": 1}, default=100, minimum=2, message="at least two")
