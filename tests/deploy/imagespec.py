"""What deploy/Dockerfile installs, read so the tests install exactly that (one source)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"


@dataclass(frozen=True)
class BuilderStage:
    """The builder stage of a Dockerfile: what it copies from the build context and installs."""

    install: str  # the pip requirement, relative to the copied context (``.[serve]``)
    copied: tuple[str, ...]  # build-context paths its COPY lines take

    def __str__(self) -> str:
        return f"pip install {self.install!r} from {', '.join(self.copied)}"


def builder_stage(dockerfile: Path) -> BuilderStage:
    """The ``builder`` stage's ``SKYROUTE_INSTALL`` default and COPY sources.

    Fails if the stage installs anything but ``"${SKYROUTE_INSTALL}"``, so that the argument
    read here is what the image really gets.
    """
    text = re.sub(r"\\\n", " ", dockerfile.read_text(encoding="utf-8"))
    stage = text.split(" AS builder", 1)[1].split("\nFROM ", 1)[0]
    install = re.search(r"^ARG SKYROUTE_INSTALL=(\S+)$", stage, re.M)
    assert install, f"{dockerfile}: the builder stage declares no ARG SKYROUTE_INSTALL=..."
    pips = [p.strip() for p in re.findall(r"pip install ([^&\n]*)", stage)]
    assert pips == ['--no-compile "${SKYROUTE_INSTALL}"'], pips
    copied: list[str] = []
    for line in re.findall(r"^COPY (?!--from)(.+)$", stage, re.M):
        *sources, _target = line.split()
        copied.extend(sources)
    return BuilderStage(install.group(1), tuple(copied))
