"""English sentences made by code, to drive the TTS engines for hours of varied speech.

The teacher corpus needs text that is natural enough for the engines' prosody
(statements, questions, lists, numbers, pauses at commas) and that reaches
every phone of :mod:`phones`, rare ones (``ZH``, ``OY``, ``UH``) included.
Grammar templates are filled from small hand-written word lists; a share of
the slots takes a random word from the CMU dictionary, restricted to words the
PocketSphinx language model knows as frequent, so the text stays
common-looking while the phone mix stays broad.
"""

from __future__ import annotations

import functools
import os
import random
import re
from dataclasses import dataclass

from talkinghead.audio2motion.phones import normalise_phone

Pronunciations = tuple[tuple[str, ...], ...]

_ALTERNATE = re.compile(r"^(.+)\(\d+\)$")
_WORD = re.compile(r"[a-z]+")


def _model_dir() -> str:
    try:
        import pocketsphinx
    except ImportError as exc:  # pragma: no cover - pocketsphinx is a dependency of this module
        raise RuntimeError(
            "the CMU dictionary comes with the pocketsphinx wheel; install it"
        ) from exc
    return os.path.join(pocketsphinx.get_model_path(), "en-us")


@functools.lru_cache(maxsize=1)
def load_cmudict() -> dict[str, Pronunciations]:
    """The CMU pronouncing dictionary of the pocketsphinx wheel: word -> pronunciations.

    Alternates (``word(2)``) join their base word in file order; phones are
    normalised with :func:`phones.normalise_phone` (no stress digits). Cached:
    the parse takes about a second and the result is treated as read-only.
    """
    entries: dict[str, list[tuple[str, ...]]] = {}
    with open(os.path.join(_model_dir(), "cmudict-en-us.dict"), encoding="utf-8") as fh:
        for line in fh:
            fields = line.split()
            if len(fields) < 2:
                continue
            match = _ALTERNATE.match(fields[0])
            word = match.group(1) if match else fields[0]
            entries.setdefault(word, []).append(tuple(normalise_phone(p) for p in fields[1:]))
    return {word: tuple(prons) for word, prons in entries.items()}


@functools.lru_cache(maxsize=4)
def frequent_words(count: int) -> tuple[str, ...]:
    """The ``count`` most frequent purely alphabetic dictionary words (2+ letters), most frequent first.

    Frequency is the unigram log probability in the PocketSphinx en-US
    language model (a proxy for how common a word is in speech).
    """
    from pocketsphinx import NGramModel

    model = NGramModel.readfile(os.path.join(_model_dir(), "en-us.lm.bin"))
    unknown = model.prob(["qqqqzzzz"])  # the score of an out-of-vocabulary word
    scored = []
    for word in load_cmudict():
        if len(word) >= 2 and _WORD.fullmatch(word):
            score = model.prob([word])
            if score > unknown:
                scored.append((-score, word))
    scored.sort()
    return tuple(word for _, word in scored[:count])


@dataclass(frozen=True)
class SentenceConfig:
    """How the generator fills its templates.

    ``random_word_rate``: chance that a noun/verb/adjective slot takes a random
    frequent dictionary word instead (grammar be damned: the engines still say
    it, and it brings phones the hand lists lack). ``vocabulary_size``: how
    many of the most frequent dictionary words that pool holds.
    ``max_clauses``: long sentences join up to this many clauses.
    """

    random_word_rate: float = 0.2
    vocabulary_size: int = 20000
    max_clauses: int = 3
    max_number: int = 9999

    def __post_init__(self) -> None:
        if not 0.0 <= self.random_word_rate <= 1.0:
            raise ValueError(f"random_word_rate must be in [0, 1], got {self.random_word_rate}")
        if self.vocabulary_size < 100:
            raise ValueError(f"vocabulary_size must be at least 100, got {self.vocabulary_size}")
        if self.max_clauses < 1:
            raise ValueError(f"max_clauses must be at least 1, got {self.max_clauses}")
        if not 0 < self.max_number < 10**9:
            raise ValueError(f"max_number must be in (0, 1e9), got {self.max_number}")


# Hand-written slot fillers; several carry rare phones on purpose
# (ZH: measure, vision, usual, garage, beige; OY: boy, voice, coin, noise; UH: book, good, wool).
# fmt: off
_NAMES = (
    "Anna", "Joseph", "Maya", "George", "Lucy", "Oliver", "Zoe", "Hugo", "Ruth", "Theo",
    "Charlotte", "Victor", "Julia", "Martin", "Sophie", "Daniel", "Grace", "Roger", "Nora",
    "Peter", "Hannah", "Thomas", "Emma", "Jacob", "Olivia", "Samuel", "Chloe", "Benjamin",
    "Irene", "Walter", "Sheila", "Dorothy", "Vincent", "Joyce", "Howard", "Judith",
)
_NOUNS = (
    "book", "garden", "window", "teacher", "letter", "kitchen", "river", "mountain", "table",
    "voice", "coin", "boy", "toy", "noise", "treasure", "measure", "vision", "garage", "engine",
    "wool", "cushion", "sugar", "butcher", "wolf", "hood", "foot", "moon", "shoe", "juice",
    "chair", "cheese", "judge", "bridge", "thought", "theatre", "weather", "feather", "mother",
    "father", "brother", "yellow car", "jar", "horse", "orange", "apple", "bottle", "picture",
    "village", "journey", "question", "answer", "doctor", "pencil", "mirror", "pillow",
    "hammer", "basket", "blanket", "ocean", "island", "forest", "valley", "tower", "castle",
    "camera", "piano", "guitar", "violin", "whistle", "button", "ribbon", "mouse", "house",
    "cloud", "child", "oyster", "choice", "leisure", "television", "decision", "collision",
)
_ADJECTIVES = (
    "beige", "usual", "good", "quiet", "yellow", "enormous", "tiny", "careful", "gentle",
    "brave", "bright", "heavy", "smooth", "rough", "shiny", "thick", "thin", "warm", "cool",
    "loyal", "noisy", "joyful", "foolish", "woolen", "curious", "famous", "vivid", "zealous",
    "awkward", "ancient", "modern", "purple", "golden", "silver", "hungry", "thirsty", "lazy",
    "visual", "casual", "genuine", "cheerful", "charming", "ugly", "strange", "huge", "young",
)
_VERBS = (  # base form
    "measure", "enjoy", "push", "pull", "look at", "cook", "watch", "join", "choose", "build",
    "carry", "find", "bring", "throw", "catch", "paint", "mention", "borrow", "visit", "avoid",
    "fix", "wash", "share", "explore", "thank", "bathe", "breathe", "judge", "change", "sing",
)
_VERBS_PAST = (
    "measured", "enjoyed", "pushed", "pulled", "looked at", "cooked", "watched", "joined",
    "chose", "built", "carried", "found", "brought", "threw", "caught", "painted", "mentioned",
    "borrowed", "visited", "avoided", "fixed", "washed", "shared", "explored", "thanked",
    "bathed", "judged", "changed", "wanted", "took", "put", "stood by", "should have seen",
)
_ADVERBS = (
    "slowly", "quickly", "usually", "quietly", "happily", "carefully", "yesterday", "today",
    "again", "together", "outside", "early", "later", "often", "rarely", "honestly", "truly",
)
_PLACES = (
    "in the garden", "at the station", "near the river", "behind the house", "on the roof",
    "under the bridge", "by the window", "in the village", "at school", "on the boat",
    "in the garage", "at the theatre", "in the woods", "through the tunnel", "around the corner",
)
_OPENERS = (
    "Well", "Oh", "Yes", "No", "Honestly", "Actually", "Anyway", "Look", "Listen", "Of course",
    "By the way", "In my opinion", "To be fair", "Believe it or not", "Usually",
)
_ONES = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen",
)
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
# fmt: on
_SCALES = ((10**6, "million"), (1000, "thousand"), (100, "hundred"))


def number_words(n: int) -> str:
    """A non-negative integer below a billion spelled out in English (``"four hundred and two"``)."""
    if not 0 <= n < 10**9:
        raise ValueError(f"number_words takes 0 <= n < 1e9, got {n}")
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else "-" + _ONES[n % 10])
    for scale, name in _SCALES:
        if n >= scale:
            head = f"{number_words(n // scale)} {name}"
            rest = n % scale
            if rest == 0:
                return head
            joiner = " and " if rest < 100 else ", " if scale > 100 else " "
            return head + joiner + number_words(rest)
    raise AssertionError("unreachable")


class SentenceGenerator:
    """Deterministic random English sentences: the same seed gives the same sentences."""

    def __init__(self, seed: int, config: SentenceConfig = SentenceConfig()) -> None:
        self._rng = random.Random(seed)
        self._config = config
        self._pool = frequent_words(config.vocabulary_size)
        self._cmu = load_cmudict()

    def sentences(self, n: int) -> list[str]:
        """The next ``n`` sentences."""
        if n < 0:
            raise ValueError(f"n must be non-negative, got {n}")
        return [self.sentence() for _ in range(n)]

    def sentence(self) -> str:
        """One sentence: a question, a list, a short reply or one to ``max_clauses`` clauses."""
        rng = self._rng
        kind = rng.random()
        if kind < 0.2:
            return self._question()
        if kind < 0.3:
            return self._list_sentence()
        if kind < 0.4:
            return self._short()
        clauses = [self._clause() for _ in range(rng.randint(1, self._config.max_clauses))]
        text = clauses[0]
        for clause in clauses[1:]:
            text += (
                rng.choice((", and ", ", but ", ", so ", " because ", ", while ", "; ")) + clause
            )
        if rng.random() < 0.25:
            text = f"{rng.choice(_OPENERS)}, {text}"
        return _finish(text, rng.choice(".....!"))

    # -- slots --------------------------------------------------------------------------
    def _random_word(self) -> str:
        return self._rng.choice(self._pool)

    def _slot(self, words: tuple[str, ...]) -> str:
        if self._rng.random() < self._config.random_word_rate:
            return self._random_word()
        return self._rng.choice(words)

    def _plural(self) -> str:
        """A noun slot in the plural when the dictionary knows the plural (else singular)."""
        noun = self._slot(_NOUNS)
        head, _, last = noun.rpartition(" ")
        for suffix in ("s", "es"):
            if last + suffix in self._cmu:
                return f"{head} {last}{suffix}".lstrip()
        return noun

    def _number(self) -> str:
        rng = self._rng
        style = rng.random()
        if style < 0.5:
            return number_words(
                rng.randint(0, 20 if rng.random() < 0.5 else self._config.max_number)
            )
        if style < 0.7:  # a year, read the usual way
            year = rng.randint(1901, 2099)
            high, low = divmod(year, 100)
            tail = (
                "hundred"
                if low == 0
                else (f"oh {number_words(low)}" if low < 10 else number_words(low))
            )
            return f"{number_words(high)} {tail}"
        if style < 0.85:  # a clock time
            minutes = rng.choice((0, 15, 30, 45, rng.randint(1, 59)))
            hour = number_words(rng.randint(1, 12))
            return f"{hour} o'clock" if minutes == 0 else f"{hour} {number_words(minutes)}"
        return f"{number_words(rng.randint(1, 99))} point {' '.join(number_words(rng.randint(0, 9)) for _ in range(rng.randint(1, 3)))}"

    def _noun_phrase(self) -> str:
        rng = self._rng
        det = rng.choice(("the", "a", "my", "your", "this", "that", "every", "our", "their"))
        adj = f"{self._slot(_ADJECTIVES)} " if rng.random() < 0.5 else ""
        noun = self._slot(_NOUNS)
        if det == "a" and (adj or noun)[0] in "aeiou":
            det = "an"
        return f"{det} {adj}{noun}"

    def _subject(self) -> str:
        rng = self._rng
        choice = rng.random()
        if choice < 0.35:
            return rng.choice(_NAMES)
        if choice < 0.6:
            return rng.choice(("I", "we", "you", "they", "she", "he", "nobody", "everyone"))
        return self._noun_phrase()

    def _clause(self) -> str:
        rng = self._rng
        subject = self._subject()
        pattern = rng.randrange(6)
        if pattern == 0:
            return (
                f"{subject} {self._slot(_VERBS_PAST)} {self._noun_phrase()} {rng.choice(_PLACES)}"
            )
        if pattern == 1:
            return f"{subject} {self._slot(_VERBS_PAST)} {self._number()} {self._plural()}"
        if pattern == 2:
            return f"{subject} {rng.choice(('was', 'seemed', 'looked', 'felt'))} {self._slot(_ADJECTIVES)} {rng.choice(_ADVERBS)}"
        if pattern == 3:
            return f"{subject} will {self._slot(_VERBS)} {self._noun_phrase()} at {self._number()}"
        if pattern == 4:
            return f"{subject} said that {self._noun_phrase()} was {self._slot(_ADJECTIVES)}"
        return (
            f"{subject} {rng.choice(_ADVERBS)} {self._slot(_VERBS_PAST)} the {self._random_word()}"
        )

    def _question(self) -> str:
        rng = self._rng
        pattern = rng.randrange(5)
        if pattern == 0:
            text = f"did {self._subject()} {self._slot(_VERBS)} {self._noun_phrase()}"
        elif pattern == 1:
            text = f"{rng.choice(('where', 'why', 'when', 'how'))} did {self._subject()} {self._slot(_VERBS)} {self._noun_phrase()}"
        elif pattern == 2:
            text = (
                f"is {self._noun_phrase()} {self._slot(_ADJECTIVES)} or {self._slot(_ADJECTIVES)}"
            )
        elif pattern == 3:
            text = f"how many {self._plural()} are there {rng.choice(_PLACES)}"
        else:
            text = f"{rng.choice(_NAMES)}, could you {self._slot(_VERBS)} {self._noun_phrase()}, please"
        return _finish(text, "?")

    def _list_sentence(self) -> str:
        rng = self._rng
        items = [self._noun_phrase() for _ in range(rng.randint(3, 5))]
        listed = ", ".join(items[:-1]) + f" and {items[-1]}"
        lead = rng.choice(("We bought", "She packed", "I remember", "They found", "You will need"))
        return _finish(f"{lead} {listed}", ".")

    def _short(self) -> str:
        rng = self._rng
        pattern = rng.randrange(4)
        if pattern == 0:
            return _finish(
                f"{rng.choice(('Good morning', 'Hello', 'Thank you', 'Goodbye', 'Sorry'))}, {rng.choice(_NAMES)}",
                rng.choice(".!"),
            )
        if pattern == 1:
            return _finish(f"{self._slot(_ADJECTIVES)} {self._slot(_NOUNS)}", rng.choice(".!?"))
        if pattern == 2:
            return _finish(
                f"{self._random_word()}, {self._random_word()}, {self._random_word()}", "."
            )
        return _finish(f"{rng.choice(_OPENERS)}, {self._number()}", rng.choice(".?"))


def _finish(text: str, mark: str) -> str:
    """Capitalise the first letter and end with ``mark``."""
    return text[0].upper() + text[1:] + mark


def sentence_pronunciation(text: str) -> list[str] | None:
    """The first dictionary pronunciation of each word of ``text`` joined, or None if a word is missing.

    Approximation for checks: hyphens and apostrophes split or stay as the
    dictionary spells them; punctuation is ignored.
    """
    cmu = load_cmudict()
    phones: list[str] = []
    for token in re.findall(r"[a-z']+", text.lower().replace("-", " ")):
        prons = cmu.get(token) or cmu.get(token.strip("'"))
        if prons is None:
            return None
        phones.extend(prons[0])
    return phones
