"""`skyroute bundle inspect|verify|pack`: look into, check and package model bundles."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.table import Table

from skyroute.cli._common import console, handle_errors

app = typer.Typer(help="Inspect, verify and pack model bundles (see docs/bundles.md).")

ALLOW_UNSAFE = typer.Option(
    False, "--allow-unsafe", help="Accept pickle-based files (they run code when loaded)."
)


@contextmanager
def _opened(path: Path, allow_unsafe: bool) -> Iterator[object]:
    """The verified bundle at ``path`` (a folder or a .zip, unpacked to a temporary folder)."""
    from skyroute.bundles import extract_bundle, read_bundle

    if path.is_dir():
        yield read_bundle(path, allow_unsafe=allow_unsafe)
        return
    with tempfile.TemporaryDirectory() as tmp:
        yield read_bundle(extract_bundle(path, Path(tmp) / "bundle"), allow_unsafe=allow_unsafe)


@app.command()
@handle_errors
def verify(
    path: Path = typer.Argument(..., help="Bundle folder or .zip."),
    allow_unsafe: bool = ALLOW_UNSAFE,
) -> None:
    """Check hashes, manifest, format and shapes; exit 1 with the reason if anything is off."""
    with _opened(path, allow_unsafe) as bundle:
        m = bundle.manifest  # type: ignore[attr-defined]
        flag = " [bold red](UNSAFE: pickle-based)[/]" if m.unsafe else ""
        console.print(f"ok: {m.name} {m.version} ({m.kind}, {m.format}){flag}")


@app.command()
@handle_errors
def inspect(
    path: Path = typer.Argument(..., help="Bundle folder or .zip."),
    allow_unsafe: bool = ALLOW_UNSAFE,
) -> None:
    """Show the manifest and the files with their hashes."""
    with _opened(path, allow_unsafe) as bundle:
        m = bundle.manifest  # type: ignore[attr-defined]
        table = Table(title=f"{m.name} {m.version}", show_header=False)
        for key in ("kind", "format", "trained_until", "created_at", "code_version"):
            table.add_row(key, str(getattr(m, key)))
        table.add_row("inputs", ", ".join(f"{t.name} {list(t.shape)}" for t in m.inputs))
        table.add_row("outputs", ", ".join(f"{t.name} {list(t.shape)}" for t in m.outputs))
        table.add_row("features", ", ".join(m.features) or "-")
        table.add_row("metrics", ", ".join(f"{k}={v}" for k, v in m.metrics.items()) or "-")
        for name, digest in m.files.items():
            table.add_row(f"file {name}", digest)
        if m.unsafe:
            table.add_row("[bold red]unsafe[/]", "pickle-based: loading runs code")
        console.print(table)


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
    console.print(f"wrote {out}")
