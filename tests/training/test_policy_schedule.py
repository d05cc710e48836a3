"""AdaShare's schedule against values worked out by hand from the authors' train.py rules.

Their loop (train.py, lines 284-414 at 0615a47): ``current_iter`` counts from 1; it warms up while
``current_iter < warm_up_iters``; then ``weight_iter_alternate = len(train1_loader)`` weight steps
and ``alpha_iter_alternate = len(train2_loader)`` policy steps alternate; after each policy pass
the temperature is multiplied by 0.965 and ``p_epoch`` grows by one; ``num_train_layers =
p_epoch // curriculum_speed + 1``.
"""

from __future__ import annotations

import pytest

from nas.training import PolicyTraining, Schedule, halves_steps, schedule_for

# NYUv2 in the authors' configuration: 795 training images in halves of 397 and 398 at batch
# 16 and drop_last: 24 batches in each half; 20,000 iterations, 4,000 of warm-up; ResNet-34.
NYU = Schedule(iterations=20_000, warmup=4_000, weight_steps=24, policy_steps=24,
               warmup_steps=49, curriculum_every=3, lockable=16)  # fmt: skip


def test_the_warm_up_ends_one_iteration_before_warm_up_iters() -> None:
    assert NYU.at(1).phase == NYU.at(3_999).phase == "warmup"
    assert NYU.at(4_000).phase == "weights"  # current_iter == warm_up_iters: policy phase
    # 795 // 16 = 49 batches per warm-up epoch: iteration 50 starts the second pass.
    assert (NYU.at(49).pass_number, NYU.at(49).index) == (0, 48)
    assert (NYU.at(50).pass_number, NYU.at(50).index) == (1, 0)


def test_weights_and_policy_alternate_by_whole_passes_over_the_halves() -> None:
    assert halves_steps(795, 16) == (24, 24)  # 397 // 16 and 398 // 16
    phases = [NYU.at(4_000 + j).phase for j in range(96)]
    assert phases == (["weights"] * 24 + ["policy"] * 24) * 2
    assert NYU.at(4_023).index == 23 and NYU.at(4_024).index == 0  # the policy pass begins


def test_the_temperature_at_a_given_iteration() -> None:
    # Iteration 10,000 is policy-phase step 6,000: 6,000 // 48 = 125 policy passes done.
    assert NYU.at(10_000).epoch == 125
    assert NYU.at(10_000).temperature == pytest.approx(5 * 0.965**125)
    assert NYU.at(4_047).temperature == 5.0  # still the first policy epoch
    assert NYU.at(4_048).temperature == pytest.approx(5 * 0.965)
    # The last iteration: (20,000 - 4,000) // 48 = 333 decays, as near 0 as their runs get.
    assert NYU.at(20_000).temperature == pytest.approx(5 * 0.965**333)
    assert NYU.policy_epochs == 334  # 16,001 policy-phase iterations, 48 each, the last cut


def test_the_curriculum_learns_one_more_top_block_every_three_policy_epochs() -> None:
    unlocked = [NYU.at(4_000 + 48 * e).unlocked for e in range(50)]
    assert unlocked[:9] == [1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert unlocked[45] == 16 and max(unlocked) == 16  # all of ResNet-34's 16 blocks
    assert NYU.at(3_999).unlocked == 0  # the warm-up learns no policy


def test_a_study_schedule_runs_as_many_iterations_as_one_candidate_training() -> None:
    # 1,200 training samples at batch 16: 75 batches an epoch; 10 epochs: 750 iterations.
    s = schedule_for(PolicyTraining(batch_size=16), n_train=1_200, lockable=8, epochs=10)
    assert (s.iterations, s.warmup, s.weight_steps, s.policy_steps) == (750, 150, 37, 37)
    long = schedule_for(PolicyTraining(iterations=20_000), n_train=1_200, lockable=8, epochs=10)
    assert long.iterations == 20_000 and long.warmup == 4_000


def test_a_schedule_refuses_what_it_cannot_run() -> None:
    with pytest.raises(ValueError, match="warmup must be in"):
        Schedule(iterations=10, warmup=11, weight_steps=1, policy_steps=1)
    with pytest.raises(ValueError, match=r"outside 1\.\.10"):
        Schedule(iterations=10, warmup=2, weight_steps=1, policy_steps=1).at(11)
    with pytest.raises(ValueError, match="warmup a fraction"):
        PolicyTraining(warmup=1.0)
