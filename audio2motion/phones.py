"""The phone set every audio2motion stage speaks: ARPAbet without stress marks.

TTS engines, the PocketSphinx baselines and the evaluation labels all use
their own symbols; each converts to these 39 phones plus ``SIL`` (silence,
pauses, breath, noise) at its boundary, so the articulation model and the
training targets see one alphabet.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

VOWELS: tuple[str, ...] = (
    "AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW",
)
CONSONANTS: tuple[str, ...] = (
    "B", "CH", "D", "DH", "F", "G", "HH", "JH", "K", "L", "M", "N", "NG", "P", "R", "S", "SH",
    "T", "TH", "V", "W", "Y", "Z", "ZH",
)
SILENCE = "SIL"
PHONES: tuple[str, ...] = (SILENCE,) + VOWELS + CONSONANTS
PHONE_INDEX: dict[str, int] = {phone: i for i, phone in enumerate(PHONES)}


def normalise_phone(symbol: str) -> str:
    """ARPAbet with or without stress digits (``AH0``), any case -> a member of :data:`PHONES`.

    Non-speech symbols (``NSN``, ``SPN``, ``+NOISE+``, ``pau``, ``h#``, ``sil``) become ``SIL``.
    """
    core = symbol.strip().upper().rstrip("012")
    if core in PHONE_INDEX:
        return core
    if core in {"", "NSN", "SPN", "PAU", "H#", "SP", "<SIL>", "</S>", "<S>"} or core.startswith("+"):
        return SILENCE
    raise ValueError(f"unknown phone symbol {symbol!r}")


@dataclass(frozen=True)
class Phone:
    """One phone of an utterance: ARPAbet symbol and its span in seconds."""

    symbol: str
    start: float
    end: float

    def __post_init__(self) -> None:
        if self.symbol not in PHONE_INDEX:
            raise ValueError(f"{self.symbol!r} is not in the phone set; use normalise_phone()")
        if not self.end >= self.start >= 0.0:
            raise ValueError(f"phone {self.symbol} has a bad span [{self.start}, {self.end}]")


def merge_silences(phones: Sequence[Phone]) -> list[Phone]:
    """Join adjacent ``SIL`` phones and drop zero-length phones, keeping times."""
    merged: list[Phone] = []
    for phone in phones:
        if phone.end <= phone.start:
            continue
        if merged and phone.symbol == SILENCE == merged[-1].symbol:
            merged[-1] = Phone(SILENCE, merged[-1].start, phone.end)
        else:
            merged.append(phone)
    return merged


def phones_at(phones: Sequence[Phone], times: Sequence[float]) -> list[str]:
    """The phone symbol sounding at each time (``SIL`` outside every phone)."""
    starts = [phone.start for phone in phones]
    out = []
    for t in times:
        i = bisect_right(starts, t) - 1
        out.append(phones[i].symbol if i >= 0 and t < phones[i].end else SILENCE)
    return out
