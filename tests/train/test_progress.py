"""The time budget stops training (and saves) once its minutes are spent, and not before."""

from types import SimpleNamespace

import torch
from transformers import TrainerControl

from lmstack.train.progress import TimeBudget


def test_time_budget_stops_and_saves_once_spent():
    args = SimpleNamespace(device=torch.device("cpu"))
    spent, fresh, unlimited = TimeBudget(1e-9), TimeBudget(60), TimeBudget(None)
    controls = []
    for budget in (spent, fresh, unlimited):
        budget.on_train_begin(args, None, TrainerControl())
        control = TrainerControl()
        budget.on_step_end(args, None, control)
        controls.append((control.should_training_stop, control.should_save))
    assert controls == [(True, True), (False, False), (False, False)]
