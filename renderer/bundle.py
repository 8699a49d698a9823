"""Avatar bundles on disk: ``avatar.json`` (format version, kind, files) beside the kind's files."""

from __future__ import annotations

import json
from pathlib import Path

AVATAR_FORMAT_VERSION = 1


def write_meta(directory: Path, kind: str, fields: dict) -> None:
    meta = {"format_version": AVATAR_FORMAT_VERSION, "kind": kind, **fields}
    (directory / "avatar.json").write_text(json.dumps(meta, indent=2) + "\n")


def read_meta(directory: Path) -> dict:
    """``avatar.json`` of a bundle, refusing formats newer than this code reads."""
    path = directory / "avatar.json"
    if not path.is_file():
        raise ValueError(f"{directory}: not an avatar bundle (no avatar.json)")
    try:
        meta = json.loads(path.read_text())
        version = int(meta["format_version"])
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path}: unreadable ({error})") from None
    if version > AVATAR_FORMAT_VERSION:
        raise ValueError(
            f"{directory}: avatar format {version} is newer than this talkinghead reads "
            f"({AVATAR_FORMAT_VERSION}); upgrade talkinghead"
        )
    return meta
