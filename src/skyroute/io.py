"""Writing outputs so that nothing half-written is ever visible."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from skyroute.errors import OutputError


def _check_writable_parent(path: Path) -> None:
    parent = path.parent if path.parent != Path("") else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"cannot create directory {parent}: {exc.strerror}",
            "choose an output path you can write to",
        ) from exc
    if not os.access(parent, os.W_OK):
        raise OutputError(f"{parent} is not writable", "choose an output path you can write to")


@contextlib.contextmanager
def staged_output_dir(out_dir: Path) -> Iterator[Path]:
    """Yield a private staging directory; on success move its files into ``out_dir``.

    If the body raises, the staging directory is removed and ``out_dir`` is left exactly as it
    was, so a failed run never leaves partial results behind.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"{out_dir} exists and is not a directory", "pass a directory path")
    _check_writable_parent(out_dir)
    stage = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.staging-", dir=out_dir.parent))
    try:
        yield stage
        try:
            out_dir.mkdir(exist_ok=True)
        except OSError as exc:
            raise OutputError(
                f"cannot create {out_dir}: {exc.strerror}", "check permissions"
            ) from exc
        if not os.access(out_dir, os.W_OK):
            raise OutputError(f"{out_dir} is not writable", "choose another output directory")
        for item in sorted(stage.rglob("*")):
            target = out_dir / item.relative_to(stage)
            if item.is_dir():
                target.mkdir(exist_ok=True)
            else:
                os.replace(item, target)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it over ``path`` only on success."""
    path = Path(path)
    if path.exists() and path.is_dir():
        raise OutputError(f"{path} is a directory", "pass a file path")
    _check_writable_parent(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
