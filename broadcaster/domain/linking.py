"""Words that carry meaning in a report or a match phrase: lower case, no stop words, no plural ``s``.

An incident's match phrase matches a report when every one of its significant words
appears in the report; the matcher (broadcaster.linking) uses it as one of its signals.
"""

import re

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_STOPWORDS = frozenset(
    """a an and are as at be but by can cannot can't do does for from get gets got has
    have i i'm in into is it its me my of on or our the their this to was we when
    while with you your""".split()
)


def _stem(word: str) -> str:
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def significant_words(text: str) -> frozenset[str]:
    return frozenset(stem for stem, _ in significant_word_forms(text))


def significant_word_forms(text: str) -> list[tuple[str, str]]:
    """(significant word, the form it was written in), in order: ``crashe`` was written ``crashes``.

    The stem is what matches; the form is what to show a person (a match phrase to type).
    """
    return [(_stem(word), word) for word in _WORD.findall(text.lower()) if word not in _STOPWORDS]
