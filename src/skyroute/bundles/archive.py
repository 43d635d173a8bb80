"""Unpacking uploaded bundle archives without trusting them, and packing them reproducibly.

Refused before anything becomes visible: malformed or truncated zips, absolute paths, ``..``,
links and other special files, encrypted members, too many members, and zip bombs. Declared
sizes are checked first, then the bytes actually written are counted, because a crafted
archive's headers can lie. Extraction goes into a private sibling directory that is renamed
into place only once complete, so a refused upload leaves nothing behind.
"""

from __future__ import annotations

import io
import os
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from skyroute.bundles.errors import BundleError
from skyroute.io import atomic_file

MAX_MEMBERS = 64
MAX_TOTAL_BYTES = 512 << 20
MAX_RATIO = 100.0
#: Members smaller than this skip the ratio test: tiny JSON legitimately compresses > 100x,
#: and the total cap already bounds what they can cost.
RATIO_FLOOR_BYTES = 1 << 20
CHUNK = 1 << 16
#: Zip timestamps of packed bundles, so that the same files give the same bytes.
FIXED_TIME = (2020, 1, 1, 0, 0, 0)
_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
_REZIP = "re-create the zip with `skyroute bundle pack DIR --out FILE.zip`"


@dataclass(frozen=True)
class Limits:
    """What an archive may hold; the server passes its own, tests pass tiny ones."""

    max_members: int = MAX_MEMBERS
    max_bytes: int = MAX_TOTAL_BYTES
    max_ratio: float = MAX_RATIO
    ratio_floor: int = RATIO_FLOOR_BYTES


def extract_bundle(
    source: Path | bytes,
    dest: Path,
    *,
    max_bytes: int = MAX_TOTAL_BYTES,
    max_members: int = MAX_MEMBERS,
    max_ratio: float = MAX_RATIO,
) -> Path:
    """Unpack the zip ``source`` (path or bytes) into the new directory ``dest``.

    A bundle directory is accepted too and copied after the same checks. If the zip holds a
    single top-level folder, that folder becomes ``dest``. Returns ``dest``.
    """
    limits = Limits(max_members=max_members, max_bytes=max_bytes, max_ratio=max_ratio)
    dest = Path(dest)
    if dest.exists() or dest.is_symlink():
        raise BundleError(f"{dest} exists", "extract into a new directory")
    dest.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{dest.name}.staging-", dir=dest.parent))
    try:
        if isinstance(source, Path | str) and Path(source).is_dir():
            _copy_directory(Path(source), stage, limits)
        else:
            _extract_zip(source, stage, limits)
        entries = list(stage.iterdir())
        # A zip of a folder holds one top-level directory: use it as the bundle root.
        root = entries[0] if len(entries) == 1 and entries[0].is_dir() else stage
        os.replace(root, dest)
        return dest
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _open_zip(source: Path | bytes) -> zipfile.ZipFile:
    handle: IO[bytes] | Path = io.BytesIO(source) if isinstance(source, bytes) else Path(source)
    try:
        return zipfile.ZipFile(handle)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as exc:
        raise BundleError(f"the upload is not a valid zip ({exc})", _REZIP) from None
    except OSError as exc:
        raise BundleError(f"cannot read the upload ({exc.strerror or exc})", _REZIP) from None


def _extract_zip(source: Path | bytes, stage: Path, limits: Limits) -> None:
    with _open_zip(source) as archive:
        members = archive.infolist()
        _check_listing(members, limits)
        written = 0
        for info in members:
            target = stage.joinpath(*_safe_name(info.filename).parts)
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            written += _copy_member(archive, info, target, limits, limits.max_bytes - written)


def _check_listing(members: list[zipfile.ZipInfo], limits: Limits) -> None:
    """Everything the central directory declares, checked before a single byte is written."""
    if len(members) > limits.max_members:
        raise BundleError(
            f"{len(members)} files in the archive; at most {limits.max_members} are allowed",
            "ship only bundle.json and the model files",
        )
    seen: set[str] = set()
    for info in members:
        name = _safe_name(info.filename).as_posix().lower()
        if name in seen:
            raise BundleError(f"archive member {info.filename!r} appears twice", _REZIP)
        seen.add(name)
        _check_member(info, limits)
    declared = sum(m.file_size for m in members)
    if declared > limits.max_bytes:
        raise BundleError(
            f"archive expands to {declared >> 20} MB, above the {limits.max_bytes >> 20} MB limit",
            "ship a smaller model (or this is a zip bomb)",
        )


def _safe_name(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if not name or not path.parts or "\x00" in name:
        raise BundleError(f"archive member {name!r} has an empty name", _REZIP)
    if name.startswith(("/", "\\")) or path.is_absolute() or ":" in path.parts[0]:
        raise BundleError(f"archive member {name!r} has an absolute path", "use relative paths")
    if "\\" in name or ".." in path.parts:
        raise BundleError(f"archive member {name!r} leaves the bundle folder", "remove '..'")
    return path


def _check_member(info: zipfile.ZipInfo, limits: Limits) -> None:
    mode = info.external_attr >> 16
    kind = stat.S_IFMT(mode)
    if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
        raise BundleError(
            f"archive member {info.filename!r} is a link or special file",
            "bundles hold regular files only; copy the target file in instead",
        )
    if info.flag_bits & 0x1:
        raise BundleError(
            f"archive member {info.filename!r} is encrypted", "zip without a password"
        )
    if info.compress_type not in _METHODS:
        raise BundleError(
            f"archive member {info.filename!r} uses compression method {info.compress_type}",
            "use plain deflate (what `skyroute bundle pack` writes)",
        )
    _check_ratio(info.filename, info.file_size, info.compress_size, limits)


def _check_ratio(name: str, size: int, compressed: int, limits: Limits) -> None:
    if size > limits.ratio_floor and size > limits.max_ratio * max(compressed, 1):
        raise BundleError(
            f"archive member {name!r} expands {size / max(compressed, 1):.0f}x "
            f"(limit {limits.max_ratio:.0f}x)",
            "this looks like a zip bomb; store the files with normal compression",
        )


def _copy_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, limits: Limits, budget: int
) -> int:
    """Stream one member, counting real bytes against its declared size and the budget."""
    count = 0
    try:
        with archive.open(info) as src, target.open("xb") as out:
            while chunk := src.read(CHUNK):
                count += len(chunk)
                if count > budget:
                    raise BundleError(
                        f"archive expands above the {limits.max_bytes >> 20} MB limit",
                        "zip bomb refused; ship a smaller model",
                    )
                if count > info.file_size:
                    raise BundleError(
                        f"archive member {info.filename!r} holds more than its declared size",
                        "zip bomb refused; " + _REZIP,
                    )
                _check_ratio(info.filename, count, info.compress_size, limits)
                out.write(chunk)
    except BundleError:
        raise
    except FileExistsError:
        raise BundleError(f"archive member {info.filename!r} appears twice", _REZIP) from None
    except Exception as exc:  # BadZipFile (bad CRC), EOFError, zlib.error, OSError, ...
        raise BundleError(f"archive member {info.filename!r} is damaged ({exc})", _REZIP) from None
    if count != info.file_size:
        raise BundleError(f"archive member {info.filename!r} is truncated", _REZIP)
    return count


def _copy_directory(source: Path, stage: Path, limits: Limits) -> None:
    """A bundle directory gets the archive's checks: regular files only, same limits."""
    entries = sorted(source.rglob("*"))
    files = [p for p in entries if not p.is_dir() or p.is_symlink()]
    if len(files) > limits.max_members:
        raise BundleError(f"{len(files)} files in {source}", f"at most {limits.max_members}")
    total = 0
    for path in files:
        mode = path.lstat().st_mode
        if not stat.S_ISREG(mode):
            raise BundleError(
                f"{path.relative_to(source)} is a link or special file",
                "bundles hold regular files only; copy the target file in instead",
            )
        total += path.lstat().st_size
    if total > limits.max_bytes:
        raise BundleError(f"{source} holds {total >> 20} MB", f"at most {limits.max_bytes >> 20}")
    for path in entries:
        target = stage / path.relative_to(source)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target, follow_symlinks=False)


def pack_bundle(src: Path, out_zip: Path) -> Path:
    """A deterministic zip of the bundle directory ``src`` (sorted names, fixed times), atomic."""
    src = Path(src)
    if not (src / "bundle.json").is_file():
        raise BundleError(f"{src} has no bundle.json", "pack a bundle directory")
    paths = sorted(p for p in src.rglob("*") if not p.is_dir() or p.is_symlink())
    for path in paths:
        if not stat.S_ISREG(path.lstat().st_mode):
            raise BundleError(f"{path} is a link or special file", "bundles hold regular files")
    with atomic_file(Path(out_zip)) as tmp, zipfile.ZipFile(tmp, "w") as archive:
        for path in paths:
            info = zipfile.ZipInfo(path.relative_to(src).as_posix(), FIXED_TIME)
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, so external_attr reads the same everywhere
            with path.open("rb") as handle:
                archive.writestr(info, handle.read(), compresslevel=6)
    return Path(out_zip)


#: The brief's short name for :func:`pack_bundle`.
pack = pack_bundle
