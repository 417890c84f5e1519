"""Overlapping runs on one DVC repository take turns for its lock instead of failing."""

from __future__ import annotations

import pytest
from dvc.lock import LockError

from components.errors import StepstoneError
from pipelines import data_version


def test_a_held_dvc_lock_is_waited_for(monkeypatch):
    monkeypatch.setattr(data_version.time, "sleep", lambda s: None)
    calls = []

    def action():
        calls.append(1)
        if len(calls) < 3:
            raise LockError("Unable to acquire lock")
        return "done"

    assert data_version._retry_while_locked(action) == "done" and len(calls) == 3


def test_a_lock_that_is_never_released_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(data_version.time, "sleep", lambda s: None)

    def action():
        raise LockError("Unable to acquire lock")

    with pytest.raises(StepstoneError, match=r"remove \.dvc/tmp/lock"):
        data_version._retry_while_locked(action, attempts=3)
