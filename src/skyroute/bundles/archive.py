"""Unpacking uploaded bundle archives without trusting them, and packing them reproducibly.

Refused before anything becomes visible: malformed or truncated zips, absolute paths, ``..``,
links and other special files, too many members, and zip bombs (declared sizes are checked,
then the bytes actually written are counted, because declared sizes can lie).
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from skyroute.bundles.manifest import BundleError
from skyroute.io import atomic_file

MAX_MEMBERS = 64
MAX_TOTAL_BYTES = 512 << 20
MAX_RATIO = 100.0
#: Members smaller than this are not ratio-checked (tiny JSON compresses extremely well).
RATIO_FLOOR_BYTES = 1 << 20
CHUNK = 1 << 16
FIXED_TIME = (2020, 1, 1, 0, 0, 0)


def _safe_name(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if name.startswith(("/", "\\")) or path.is_absolute() or ":" in path.parts[0]:
        raise BundleError(f"archive member {name!r} has an absolute path", "use relative paths")
    if any(part == ".." for part in path.parts) or "\\" in name:
        raise BundleError(f"archive member {name!r} leaves the bundle folder", "remove '..'")
    return path


def _check_member(info: zipfile.ZipInfo) -> None:
    kind = stat.S_IFMT(info.external_attr >> 16)
    if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
        raise BundleError(
            f"archive member {info.filename!r} is a link or special file",
            "bundles hold regular files only",
        )
    if info.file_size > RATIO_FLOOR_BYTES and info.file_size > MAX_RATIO * max(
        info.compress_size, 1
    ):
        raise BundleError(
            f"archive member {info.filename!r} expands "
            f"{info.file_size / max(info.compress_size, 1):.0f}x",
            "this looks like a zip bomb; store the files with normal compression",
        )


def extract_bundle(source: Path, dest: Path, *, max_bytes: int = MAX_TOTAL_BYTES) -> Path:
    """Unpack the zip ``source`` into the new directory ``dest`` (a directory is copied as is)."""
    if dest.exists():
        raise BundleError(f"{dest} exists", "extract into a new directory")
    if source.is_dir():
        shutil.copytree(source, dest, symlinks=True)
        for path in dest.rglob("*"):
            if path.is_symlink() or not (path.is_file() or path.is_dir()):
                shutil.rmtree(dest, ignore_errors=True)
                raise BundleError(f"{path.name} is a link or special file", "remove it")
        return dest
    stage = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        try:
            archive = zipfile.ZipFile(source)
        except (zipfile.BadZipFile, OSError) as exc:
            raise BundleError(f"the upload is not a valid zip ({exc})", "re-create it") from None
        with archive:
            members = archive.infolist()
            if len(members) > MAX_MEMBERS:
                raise BundleError(f"{len(members)} files in the archive", f"at most {MAX_MEMBERS}")
            if sum(m.file_size for m in members) > max_bytes:
                raise BundleError(f"archive expands above {max_bytes >> 20} MB", "ship less")
            written = 0
            for info in members:
                name = _safe_name(info.filename)
                _check_member(info)
                target = stage.joinpath(*name.parts)
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    with archive.open(info) as src, target.open("wb") as out:
                        while chunk := src.read(CHUNK):
                            written += len(chunk)
                            if written > max_bytes:
                                raise BundleError(
                                    "archive expands above its declared size", "zip bomb refused"
                                )
                            out.write(chunk)
                except (zipfile.BadZipFile, EOFError, OSError, RuntimeError) as exc:
                    raise BundleError(
                        f"archive member {info.filename!r} is damaged ({exc})", "re-create the zip"
                    ) from None
        roots = [p for p in stage.iterdir()]
        # A zip of a folder holds one top-level directory: use it as the bundle root.
        root = roots[0] if len(roots) == 1 and roots[0].is_dir() else stage
        os.replace(root, dest)
        return dest
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def pack_bundle(src: Path, out_zip: Path) -> Path:
    """A deterministic zip of the bundle directory ``src`` (sorted names, fixed times)."""
    if not (src / "bundle.json").is_file():
        raise BundleError(f"{src} has no bundle.json", "pack a bundle directory")
    with atomic_file(out_zip) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in src.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(src).as_posix(), FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return out_zip
