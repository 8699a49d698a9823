import re

import pytest

pytest.importorskip("pocketsphinx")

from talkinghead.audio2motion.phones import CONSONANTS, PHONES, VOWELS
from talkinghead.audio2motion.training.sentences import (
    SentenceConfig,
    SentenceGenerator,
    frequent_words,
    load_cmudict,
    number_words,
    sentence_pronunciation,
)


def test_cmudict_has_alternates_and_project_phones():
    cmu = load_cmudict()
    assert len(cmu) > 100_000
    assert cmu["measure"][0] == ("M", "EH", "ZH", "ER")
    assert len(cmu["a"]) >= 2  # "a(2)" joined its base word
    assert ("EY",) in cmu["a"]
    assert "a(2)" not in cmu
    assert all(p in PHONES for prons in list(cmu.values())[:5000] for pron in prons for p in pron)


def test_frequent_words_are_common_alphabetic_dictionary_words():
    words = frequent_words(5000)
    assert len(words) == 5000
    assert words[0] == "the"
    assert all(re.fullmatch("[a-z]{2,}", w) and w in load_cmudict() for w in words)
    assert {"house", "water", "people"} <= set(words)
    assert "zygote" not in words


def test_same_seed_same_sentences_other_seed_others():
    a = SentenceGenerator(3).sentences(20)
    assert a == SentenceGenerator(3).sentences(20)
    assert a != SentenceGenerator(4).sentences(20)


def test_sentences_are_punctuated_and_varied():
    sents = SentenceGenerator(0).sentences(200)
    assert all(s[0].isupper() and s[-1] in ".!?" for s in sents)
    assert sum(s.endswith("?") for s in sents) > 20
    assert sum("," in s for s in sents) > 50
    lengths = [len(s.split()) for s in sents]
    assert min(lengths) <= 3 and max(lengths) >= 25
    assert len(set(sents)) == len(sents)


def test_every_word_is_in_the_dictionary():
    for s in SentenceGenerator(1).sentences(200):
        assert sentence_pronunciation(s) is not None, s


def test_200_sentences_cover_every_phone():
    covered = set()
    for s in SentenceGenerator(0).sentences(200):
        covered.update(sentence_pronunciation(s))
    assert set(VOWELS + CONSONANTS) <= covered
    assert {"ZH", "OY", "UH"} <= covered


def test_random_word_rate_zero_uses_hand_lists_only():
    pool = set(frequent_words(20000))
    plain = SentenceGenerator(5, SentenceConfig(random_word_rate=0.0)).sentences(50)
    rich = SentenceGenerator(5, SentenceConfig(random_word_rate=1.0)).sentences(50)
    words = lambda sents: {w for s in sents for w in re.findall("[a-z]+", s.lower())}
    assert len(words(rich) & pool) > len(words(plain) & pool)


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (0, "zero"),
        (13, "thirteen"),
        (40, "forty"),
        (57, "fifty-seven"),
        (100, "one hundred"),
        (1005, "one thousand and five"),
        (2350, "two thousand, three hundred and fifty"),
        (1_000_000, "one million"),
    ],
)
def test_number_words(n, words):
    assert number_words(n) == words


def test_bad_input_is_a_value_error():
    with pytest.raises(ValueError):
        number_words(-1)
    with pytest.raises(ValueError):
        SentenceConfig(random_word_rate=1.5)
    with pytest.raises(ValueError):
        SentenceGenerator(0).sentences(-1)
