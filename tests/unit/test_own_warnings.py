"""Quiet runs still show train-tune's own warnings (about the user's model, config or data) on the
terminal, one plain line each; library warnings stay in the log file (runner.quiet)."""

from __future__ import annotations

import logging

from runner.quiet import own_warnings


def test_own_warnings_reach_the_terminal_and_library_ones_do_not(capsys):
    handler = own_warnings()
    loggers = [logging.getLogger(name) for name in ("activities.models", "lightning.pytorch", "runner.submit")]
    for logger in loggers:
        logger.addHandler(handler)
        logger.propagate = False
    try:
        loggers[0].warning("model.name_or_path 'x' has a classification head for %d labels", 2)
        loggers[1].warning("log_every_n_steps is larger than the number of batches")
        loggers[2].info("started")
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
            logger.propagate = True
    err = capsys.readouterr().err
    assert err == "warning: model.name_or_path 'x' has a classification head for 2 labels\n", err
