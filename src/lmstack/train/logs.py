"""Where training metrics go besides `metrics.jsonl`: TensorBoard when it is installed, MLflow when asked.

TensorBoard event files land in the stage folder's `tb/`; browse them with

    tensorboard --logdir runs/<project>/train/tb
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

from transformers import TrainerCallback
from transformers.integrations import MLflowCallback, TensorBoardCallback

from lmstack.errors import UserError
from lmstack.train.config import TrainSection


class TensorBoardLog(TensorBoardCallback):
    """HF's TensorBoard callback writing to `log_dir` (it would pick TENSORBOARD_LOGGING_DIR or a folder
    under the checkpoints); needs the tensorboard package."""

    def __init__(self, log_dir: Path):
        super().__init__()
        self.logging_dir = str(log_dir)


def require_mlflow(cfg: TrainSection) -> None:
    """Refuse `train.mlflow: true` where the mlflow package is missing (before any training starts)."""
    if cfg.mlflow and find_spec("mlflow") is None:
        raise UserError("train.mlflow is true but the mlflow package is not installed",
                        hint="pip install mlflow, or set train.mlflow: false")


def metric_loggers(cfg: TrainSection, out_dir: Path) -> list[TrainerCallback]:
    """Trainer callbacks that log metrics to TensorBoard (`out_dir/tb`) and, with `cfg.mlflow`, MLflow.

    Both write from rank 0 only (they check it themselves).
    """
    require_mlflow(cfg)
    loggers: list[TrainerCallback] = []
    if find_spec("tensorboard") is not None:
        loggers.append(TensorBoardLog(Path(out_dir) / "tb"))
    if cfg.mlflow:
        loggers.append(MLflowCallback())
    return loggers
