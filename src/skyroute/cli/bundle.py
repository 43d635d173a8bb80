"""`skyroute bundle inspect|verify|pack`: look into, check and package model bundles."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from skyroute.cli._common import console, handle_errors

if TYPE_CHECKING:
    from skyroute.bundles import Bundle

app = typer.Typer(help="Inspect, verify and pack model bundles (see docs/bundles.md).")

PATH_ARGUMENT = typer.Argument(..., help="Bundle folder or .zip.")
ALLOW_UNSAFE = typer.Option(
    False, "--allow-unsafe", help="Accept pickle-based files (marked unsafe, never loaded)."
)


@contextmanager
def _opened(path: Path, allow_unsafe: bool) -> Iterator[Bundle]:
    """The verified bundle at ``path`` (a folder, or a .zip unpacked to a temporary folder)."""
    from skyroute.bundles import extract_bundle, read_bundle

    if path.is_dir():
        yield read_bundle(path, allow_unsafe=allow_unsafe)
        return
    with tempfile.TemporaryDirectory(prefix="skyroute-bundle-") as tmp:
        yield read_bundle(extract_bundle(path, Path(tmp) / "bundle"), allow_unsafe=allow_unsafe)


@app.command()
@handle_errors
def verify(path: Path = PATH_ARGUMENT, allow_unsafe: bool = ALLOW_UNSAFE) -> None:
    """Check manifest, hashes, format and shapes; exit 1 with the reason if anything is off."""
    with _opened(path, allow_unsafe) as bundle:
        m = bundle.manifest
        flag = " [bold red]UNSAFE: pickle-based, never loaded[/]" if m.unsafe else ""
        console.print(f"ok: {m.name} {m.version} ({m.kind}, {m.format}){flag}", highlight=False)


@app.command()
@handle_errors
def inspect(path: Path = PATH_ARGUMENT) -> None:
    """Show the manifest and every file with its sha256 (unsafe bundles with a warning)."""
    with _opened(path, allow_unsafe=True) as bundle:
        m = bundle.manifest
        table = Table(title=f"{m.name} {m.version}", show_header=False)
        table.add_column("field", style="bold")
        table.add_column("value", overflow="fold")
        for key in ("kind", "format", "trained_until", "created_at", "code_version"):
            table.add_row(key, str(getattr(m, key)) or "-")
        table.add_row("data_fingerprint", m.data_fingerprint or "-")
        for label, tensors in (("inputs", m.inputs), ("outputs", m.outputs)):
            table.add_row(label, ", ".join(f"{t.name} {t.dtype} {list(t.shape)}" for t in tensors))
        table.add_row("features", ", ".join(m.features) or "-")
        table.add_row("metrics", ", ".join(f"{k}={v}" for k, v in m.metrics.items()) or "-")
        table.add_row("libraries", ", ".join(f"{k} {v}" for k, v in m.libraries.items()) or "-")
        table.add_row("normalisation", "mean/std per column" if m.normalisation else "-")
        reference = m.reference
        table.add_row(
            "reference",
            f"{reference['n']} training rows: {', '.join(reference['features'])}"
            if reference
            else "- (no input drift on the server)",
        )
        for name, digest in sorted(m.files.items()):
            table.add_row(f"file {name}" + (" (model)" if name == m.model_file else ""), digest)
        console.print(table)
        if m.unsafe:
            console.print(
                "[bold red]warning:[/] this bundle holds pickle-based files; loading them runs "
                "code, so SkyRoute never loads it for inference"
            )


@app.command()
@handle_errors
def pack(
    path: Path = typer.Argument(..., help="Bundle folder."),
    out: Path = typer.Option(..., "--out", help="The .zip to write."),
) -> None:
    """Verify a bundle folder and write it as a reproducible zip."""
    from skyroute.bundles import pack_bundle, read_bundle

    read_bundle(path)
    pack_bundle(path, out)
    console.print(f"wrote [bold]{out}[/]")
