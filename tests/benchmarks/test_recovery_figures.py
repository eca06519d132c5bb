"""The recovery benchmark's matching of kills to resumes (pure)."""

from benchmarks.recovery import recovery_figures


def test_each_kill_is_matched_to_the_first_resume_before_the_next_kill():
    kills = [{"at": 100.0, "steps_at_kill": {0: 47}}, {"at": 200.0, "steps_at_kill": {1: 12}},
             {"at": 300.0, "steps_at_kill": {1: 30}}]
    resumed = [{"trial": 0, "step": 40, "at": 104.0}, {"trial": 0, "step": 40, "at": 150.0},  # a later retry: ignored
               {"trial": 1, "step": 10, "at": 209.0}]  # the third kill was never followed by a resume
    figures = recovery_figures(kills, resumed)
    assert figures["kills"] == 3 and figures["resumes_after_a_kill"] == 2
    assert (figures["wasted_steps_per_kill_median"], figures["wasted_steps_per_kill_max"]) == (4.5, 7)
    assert (figures["recovery_s_median"], figures["recovery_s_max"]) == (6.5, 9.0)
