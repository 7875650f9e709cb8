"""What ``train`` and ``pretrain`` share: the ``--model-kwargs`` JSON, a run folder that already has a checkpoint."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any


def model_kwargs(text: str) -> dict[str, Any]:
    """The ``--model-kwargs`` JSON object; one-line ``ValueError`` otherwise."""
    import json

    try:
        kwargs = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"--model-kwargs is not JSON ({e.msg})") from None
    if not isinstance(kwargs, dict):
        raise ValueError("--model-kwargs must be a JSON object")
    return kwargs


def announce_resume(run_dir: Path, config: Any, config_cls: Any, *, what: str, result: str) -> bool:
    """If ``run_dir`` has a checkpoint: refuse other settings (``config.check_resume``, a one-line
    ``ValueError``), then either print that the ``what`` run already finished (naming its ``result``
    file) and return ``True``, or print where it resumes (stderr) and return ``False``. No checkpoint:
    ``False``."""
    from soundloc.train import has_checkpoint, read_checkpoint

    if not has_checkpoint(run_dir):
        return False
    doc, _ = read_checkpoint(run_dir)
    config.check_resume(config_cls.from_dict(doc["train_config"]))
    st = doc["state"]
    if st.get("done"):
        print(f"{run_dir}: {what} already finished (epoch {st['epoch']}, step {st['step']}); {result}")
        return True
    print(f"resuming {run_dir} at epoch {st['epoch'] + 1}, step {st['step']}", file=sys.stderr)
    return False
