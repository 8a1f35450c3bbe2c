"""Run the per-row stage of a cleaning run on Ray Data (`executor: ray`), results in input order.

The inputs are read by a Ray datasource (one read task per file, streaming blocks of unit batches),
`map_batches` runs the stage on a pool of `num_proc` actors (each builds the recipe's operators
once), and the results stream back to the cleaning process in input order (`preserve_order`),
which then makes the stateful decisions (dedup, budget) exactly as the local executor does.

Ray is an optional extra (`pip install 'lmstack[ray]'`). Without RAY_ADDRESS a local Ray instance
is started for the run and stopped after it; with it (or when Ray is already initialised) the run
uses that cluster, whose workers must see the input files and have lmstack installed.
"""

from __future__ import annotations

import logging
import os
import pickle
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lmstack.data.io import read_units
from lmstack.data.ops.base import Params
from lmstack.data.stage import Failed, Result, Stage, run_in_worker
from lmstack.errors import UserError


def _ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise UserError("executor 'ray' needs Ray Data, which is not installed",
                        hint="pip install 'lmstack[ray]' (or 'ray[data]'), or use the local executor with num_proc") from None
    return ray


def _source_class():
    import pyarrow as pa
    from ray.data.block import BlockMetadata
    from ray.data.datasource import Datasource, ReadTask

    class UnitSource(Datasource):
        """Each input file as blocks of one row: (file index, a pickled batch of units)."""

        def __init__(self, files: list[tuple[int, str, str]], batch: int):
            super().__init__()
            self.files, self.batch = files, batch

        def estimate_inmemory_data_size(self) -> int | None:
            return sum(Path(path).stat().st_size for _, path, _ in self.files if Path(path).is_file()) or None

        def get_read_tasks(self, parallelism: int, per_task_row_limit: int | None = None,
                           data_context: Any = None) -> list[ReadTask]:
            def reader(tag: int, path: str, name: str, size: int):
                def read():
                    units = []
                    for unit in read_units(path, name):
                        units.append(unit)
                        if len(units) >= size:
                            yield pa.table({"tag": [tag], "units": [pickle.dumps(units, protocol=5)]})
                            units = []
                    if units:
                        yield pa.table({"tag": [tag], "units": [pickle.dumps(units, protocol=5)]})
                return read

            return [ReadTask(reader(tag, path, name, self.batch), BlockMetadata(num_rows=None, size_bytes=None, input_files=[path], exec_stats=None))
                    for tag, path, name in self.files]

    return UnitSource


class _RayStage:
    """A map_batches actor: builds the stage once, then turns unit batches into result batches."""

    def __init__(self, recipe: Any, params: dict[str, Params]):
        self.stage = Stage.build(recipe, params)

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        results = [pickle.dumps(run_in_worker(self.stage, pickle.loads(units)), protocol=5) for units in batch["units"]]
        return {"tag": list(batch["tag"]), "results": results}


def map_stage_ray(stage: Stage, files: list[tuple[int, str, str]], batch: int, num_proc: int,
                  params: dict[str, Params]) -> Iterator[tuple[int, list[Result]]]:
    """(file index, results) for each batch of `batch` units of `files` ((index, path, name) triples), in order."""
    ray = _ray()
    started = False
    if not ray.is_initialized():
        address = os.environ.get("RAY_ADDRESS")
        kwargs = {"address": address} if address else {"num_cpus": max(2, num_proc), "include_dashboard": False}
        ray.init(logging_level=logging.WARNING, log_to_driver=False, **kwargs)
        started = True
    quiet = logging.getLogger("ray.data")
    level = quiet.level
    quiet.setLevel(logging.WARNING)
    try:
        ctx = ray.data.DataContext.get_current()
        ctx.execution_options.preserve_order = True
        ctx.enable_progress_bars = False
        ds = ray.data.read_datasource(_source_class()(files, batch), override_num_blocks=max(len(files), 1), num_cpus=0)
        ds = ds.map_batches(_RayStage, fn_constructor_args=(stage.recipe, params), batch_size=None,
                            batch_format="numpy", zero_copy_batch=True, compute=ray.data.ActorPoolStrategy(size=num_proc),
                            num_cpus=1)
        # Ray counts one input per read task and warns that the actors may idle; a task streams many blocks.
        warnings.filterwarnings("ignore", message=".*minimum number of concurrent actors.*", category=UserWarning)
        for out in ds.iter_batches(batch_size=None, batch_format="numpy", prefetch_batches=1):
            for tag, payload in zip(out["tag"], out["results"]):
                results = pickle.loads(payload)
                if isinstance(results, Failed):
                    results.raise_()
                yield int(tag), results
    finally:
        quiet.setLevel(level)
        if started:
            ray.shutdown()
