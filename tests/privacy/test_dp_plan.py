"""DPTrainer.plan: the numbers (q, T, σ) and every refusal happen before training."""

from __future__ import annotations

import dataclasses
import math

import pytest
from dp_helpers import dp_params, resolved_for

from safe_synthesizer.errors import UserInputError
from safe_synthesizer.privacy.accounting import epsilon_for, split_budget
from safe_synthesizer.privacy.dp import DPTrainer


def test_plan_numbers_follow_the_formulas():
    params = dp_params(8.0, training={"batch_size": 4, "gradient_accumulation_steps": 8})
    resolved = dataclasses.replace(resolved_for(params, 2000), num_input_records_to_sample=6000)
    trainer = DPTrainer.plan(params, resolved, 2000)
    batch = 4 * 8
    assert trainer.sampling_rate == pytest.approx(batch / 2000)
    assert trainer.steps == math.ceil(6000 / batch)  # 3 epochs / q
    assert trainer.plan_.expected_batch_size == batch
    budget = split_budget(8.0, resolved.delta)
    assert trainer.budget == budget
    eps = epsilon_for(trainer.noise_multiplier, trainer.sampling_rate, trainer.steps, budget.training_delta)
    assert eps <= budget.training_epsilon
    assert eps > 0.97 * budget.training_epsilon  # no needless noise
    assert trainer.plan_.allowed_steps >= trainer.steps


def test_grouped_steps_use_records_per_group():
    params = dp_params(8.0, data={"group_training_examples_by": "g"}, training={"batch_size": 10})
    resolved = dataclasses.replace(resolved_for(params, 200, 1000), num_input_records_to_sample=2000)
    trainer = DPTrainer.plan(params, resolved, 200, records_per_unit=5.0)
    assert trainer.privacy_unit == "group"
    assert trainer.steps == math.ceil(2000 / 5.0 / 10)  # 2 epochs of 200 groups at q = 10/200


def test_batch_larger_than_the_data_means_full_batches():
    params = dp_params(50.0, training={"batch_size": 64})
    resolved = dataclasses.replace(resolved_for(params, 40), num_input_records_to_sample=120)
    trainer = DPTrainer.plan(params, resolved, 40)
    assert trainer.sampling_rate == 1.0 and trainer.plan_.expected_batch_size == 40
    assert trainer.steps == 3  # 3 epochs, every unit in every step


def test_unreachable_epsilon_names_the_smallest_feasible_one():
    params = dp_params(0.01, training={"batch_size": 100})
    resolved = dataclasses.replace(resolved_for(params, 300), num_input_records_to_sample=3000)
    with pytest.raises(UserInputError) as info:
        DPTrainer.plan(params, resolved, 300)
    message = str(info.value)
    assert "smallest feasible epsilon" in message and "300 records" in message
    assert "records" in message.split("provide about")[1]


def test_too_few_units_is_refused():
    params = dp_params(8.0)
    with pytest.raises(UserInputError, match="at least 10 privacy units"):
        DPTrainer.plan(params, resolved_for(params, 5), 5)


def test_several_units_per_example_is_refused():
    params = dp_params(8.0)
    resolved = dataclasses.replace(resolved_for(params, 500), max_sequences_per_example=10)
    with pytest.raises(UserInputError, match="max_sequences_per_example"):
        DPTrainer.plan(params, resolved, 500)


def test_validation_split_is_refused_under_dp():
    params = dp_params(8.0, training={"validation_ratio": 0.1})
    with pytest.raises(UserInputError, match="validation_ratio"):
        DPTrainer.plan(params, resolved_for(params, 500), 500)


def test_delta_not_below_one_over_n_is_refused():
    params = dp_params(8.0, privacy={"delta": 0.01})
    with pytest.raises(UserInputError, match="not below 1/n"):
        DPTrainer.plan(params, resolved_for(params, 500), 500)


def test_dp_off_is_refused():
    params = dp_params(8.0, privacy={"dp_enabled": False})
    with pytest.raises(UserInputError):
        DPTrainer.plan(params, resolved_for(params, 500), 500)


def test_a_plan_with_few_steps_warns_with_what_to_change():
    from safe_synthesizer.pipeline import FEW_DP_STEPS, _dp_trainer

    params = dp_params(8.0, training={"batch_size": 32, "gradient_accumulation_steps": 8})
    few = dataclasses.replace(resolved_for(params, 720), num_input_records_to_sample=3000)
    warnings: list[str] = []
    assert _dp_trainer(params, few, 720, warnings).steps == math.ceil(3000 / 256) < FEW_DP_STEPS
    assert len(warnings) == 1 and "num_input_records_to_sample" in warnings[0]
    enough = dataclasses.replace(few, num_input_records_to_sample=256 * FEW_DP_STEPS)
    warnings = []
    assert _dp_trainer(params, enough, 720, warnings).steps == FEW_DP_STEPS and warnings == []
