"""The run directory: `runs/<project>/<stage>/` with a `manifest.json` per finished stage.

A manifest records what a stage was given (its config slice and the hashes of its input files
and of the stages it read from), what it wrote and measured, how long it took, and the package
versions. A stage whose key — the hash of everything it was given — matches the manifest on disk,
and whose outputs all still exist, is up to date and skipped; `force=True` reruns it.

The manifest is removed before a stage runs and written (atomically) only after it succeeds, so a
stage that crashed is never mistaken for a finished one. While a stage runs, `.pending` holds its
key: a rerun with the same key keeps the folder (so training resumes from its checkpoints), while a
rerun with another key, or a forced one, starts from an empty folder.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from lmstack import __version__
from lmstack.atomic import write_json
from lmstack.config.loader import section_hash

MANIFEST = "manifest.json"
PENDING = ".pending"
_VERSIONED = ("torch", "transformers", "tokenizers", "safetensors", "accelerate", "datasets")


@dataclass
class StageResult:
    """What a stage returns: output paths (relative to the stage folder, or absolute) and metrics."""

    outputs: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass
class StageOutcome:
    name: str
    stage_dir: Path
    manifest: dict[str, Any]
    skipped: bool

    def output(self, name: str) -> Path:
        """Path of one of the stage's outputs."""
        return self.stage_dir / self.manifest["outputs"][name]["path"]


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def tree_sha256(path: Path) -> str:
    """sha256 of a file, or of a folder's files (names and contents, in sorted order)."""
    path = Path(path)
    if path.is_file():
        return file_sha256(path)
    h = hashlib.sha256()
    for p in sorted(q for q in path.rglob("*") if q.is_file()):
        h.update(str(p.relative_to(path)).encode())
        h.update(file_sha256(p).encode())
    return h.hexdigest()


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"lmstack": __version__, "python": platform.python_version()}
    for name in _VERSIONED:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _announce_restart(stage: str, stage_dir: Path, *, forced: bool, interrupted: bool) -> None:
    """Say so on stderr, in one line, when starting a stage over deletes its training checkpoints."""
    checkpoints = list((stage_dir / "checkpoints").glob("checkpoint-*"))
    if not checkpoints:
        return
    from rich.console import Console
    from rich.markup import escape

    since = "interrupted" if interrupted else "last"
    why = "--force was given" if forced else f"its config, input files or upstream stages changed since the {since} run"
    Console(stderr=True, soft_wrap=True).print(
        f"[yellow]{stage}: starting over because {why}; deleting {len(checkpoints)} checkpoint(s) in "
        f"{escape(str(stage_dir / 'checkpoints'))}[/yellow]", highlight=False)


class RunDir:
    """`<run_dir>/<project>`: one folder per stage, each with its manifest."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def stage_dir(self, stage: str) -> Path:
        return self.root / stage

    def manifest(self, stage: str) -> dict[str, Any] | None:
        import json

        path = self.stage_dir(stage) / MANIFEST
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def is_up_to_date(self, stage: str, key: str) -> bool:
        m = self.manifest(stage)
        if m is None or m.get("key") != key:
            return False
        stage_dir = self.stage_dir(stage)
        return all((stage_dir / o["path"]).exists() for o in m.get("outputs", {}).values())

    def run_stage(
        self,
        stage: str,
        fn: Callable[[Path], StageResult],
        *,
        config: Any,
        inputs: Iterable[str | os.PathLike] = (),
        upstream: Iterable[StageOutcome] = (),
        force: bool = False,
    ) -> StageOutcome:
        """Run `fn(stage_dir)` unless the stage is up to date; return its manifest.

        `config` is the stage's config slice, `inputs` the files it reads from outside the run
        directory, `upstream` the stages whose outputs it reads.
        """
        input_hashes = {str(Path(p)): tree_sha256(Path(p)) for p in inputs}
        upstream_keys = {u.name: u.manifest["key"] for u in upstream}
        config_hash = section_hash(config)
        key = section_hash({"config": config_hash, "inputs": input_hashes, "upstream": upstream_keys})
        stage_dir = self.stage_dir(stage)
        if not force and self.is_up_to_date(stage, key):
            return StageOutcome(stage, stage_dir, self.manifest(stage), skipped=True)  # type: ignore[arg-type]

        pending = stage_dir / PENDING
        previous = pending.read_text(encoding="utf-8").strip() if pending.is_file() else None
        if stage_dir.exists() and (force or previous != key):
            _announce_restart(stage, stage_dir, forced=force, interrupted=previous is not None)
            shutil.rmtree(stage_dir)
        stage_dir.mkdir(parents=True, exist_ok=True)
        (stage_dir / MANIFEST).unlink(missing_ok=True)
        pending.write_text(key, encoding="utf-8")
        started = time.time()
        result = fn(stage_dir)
        finished = time.time()
        outputs = {}
        for name, rel in result.outputs.items():
            path = Path(rel) if Path(rel).is_absolute() else stage_dir / rel
            if not path.exists():
                raise RuntimeError(f"stage {stage!r} reported output {name!r} at {path}, which does not exist")
            outputs[name] = {"path": os.path.relpath(path, stage_dir), "sha256": tree_sha256(path)}
        manifest = {
            "stage": stage,
            "key": key,
            "config": config.model_dump(mode="json") if hasattr(config, "model_dump") else config,
            "config_hash": config_hash,
            "inputs": input_hashes,
            "upstream": upstream_keys,
            "outputs": outputs,
            "metrics": result.metrics,
            "started_at": datetime.fromtimestamp(started, timezone.utc).isoformat(),
            "finished_at": datetime.fromtimestamp(finished, timezone.utc).isoformat(),
            "seconds": round(finished - started, 3),
            "versions": package_versions(),
        }
        write_json(stage_dir / MANIFEST, manifest)
        pending.unlink()
        return StageOutcome(stage, stage_dir, manifest, skipped=False)
