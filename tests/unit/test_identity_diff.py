"""A refused changed sweep names only the keys that differ, whatever order the stored identity has."""

from __future__ import annotations

from runner.sweep_session import identity_diff


def test_only_the_changed_keys_show_whatever_their_order():
    old = {"ladder": {"kind": "sha", "eta": 2, "rungs": [20, 60]}, "optim": {"lr": 0.001, "betas": [0.9, 0.999]},
           "n_trials": 9, "config_commit": "abc"}
    new = {"n_trials": 27, "config_commit": "abc", "optim": {"betas": [0.9, 0.999], "lr": 0.001},
           "ladder": {"rungs": [20, 60], "eta": 3, "kind": "sha"}, "sampler": {"seed": 1}}
    assert identity_diff(old, new).splitlines() == [
        "  ladder.eta: 2 -> 3",
        "  n_trials: 9 -> 27",
        "  sampler.seed: (not set) -> 1",
    ]


def test_identical_identities_have_no_diff():
    identity = {"model": {"name": "bert_tiny"}, "seed": 0}
    assert identity_diff(identity, dict(reversed(list(identity.items())))) == ""
