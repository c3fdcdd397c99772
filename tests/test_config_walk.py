"""Config walking while tracing (``trace.config_walk``): references and versioned values found in a step's config."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

from marin_exec import TracingError, deferred, output, step, trace, versioned


class _ModelConfig(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(arbitrary_types_allowed=True)
    input_path: Any
    output_path: Any


def _use(config: Any) -> Any:
    return config


use = deferred(_use)


@step(name="review/up")
def _up():
    return use({"out": output(), "v": versioned(1)})


def test_a_step_ref_inside_a_config_object_the_walk_does_not_enter_is_a_tracing_error():
    # It used to be dropped silently: no dependency, no hash entry, and the function got a StepRef at run time.
    @step(name="review/down")
    def down():
        return use(_ModelConfig(input_path=_up(), output_path=output()))

    with pytest.raises(TracingError, match=r"review/down.*_ModelConfig"):
        trace(down)
