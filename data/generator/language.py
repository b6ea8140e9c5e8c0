"""Guess the language a request is written in, from its text alone (cheap, no model).

Used for two things: the `language` of a real text in the truth file, and the non-English term of
latent difficulty, which must read template and real texts alike. The request itself usually
sits at one end of the text (instruction first or last, content in between), so the first and
last lines and the head and tail are read separately, and a non-English instruction wins over
English content around it.

Non-Latin scripts are told apart by Unicode block; Latin-script languages by distinct stop words
and their letters (ñ, ß, ã...). When in doubt the answer is "en": the guess only has to catch
the clear cases.
"""

from __future__ import annotations

import re
from typing import Final

END_CHARS: Final = 400  # characters read at each end
LINE_CHARS: Final = 300  # longest last line read on its own
_LETTERS: Final = re.compile(r"[^\W\d_]+")
# letters of other scripts (Greek to Thai, kana, CJK, Hangul); not punctuation, € or arrows
_NOT_LATIN: Final = re.compile("[\u0370-\u1fff\u3040-\u9fff\uac00-\ud7af]")
# bytes.translate is about three times faster than str.translate with a dict
_LETTERS_ONLY: Final = bytes(c if chr(c).isalpha() and c < 128 else 32 for c in range(256))
# (language, letters of its script); kana before CJK ideographs, since Japanese uses both.
_SCRIPTS: Final = (
    ("ko", re.compile(r"[\uac00-\ud7af\u1100-\u11ff]")),
    ("ja", re.compile(r"[\u3040-\u30ff]")),
    ("zh", re.compile(r"[\u4e00-\u9fff]")),
    ("ru", re.compile(r"[\u0400-\u04ff]")),
    ("ar", re.compile(r"[\u0600-\u06ff]")),
    ("hi", re.compile(r"[\u0900-\u097f]")),
    ("el", re.compile(r"[\u0370-\u03ff]")),
    ("he", re.compile(r"[\u0590-\u05ff]")),
    ("th", re.compile(r"[\u0e00-\u0e7f]")),
)
_STOP: Final[dict[str, frozenset[str]]] = {
    code: frozenset(words.split())
    for code, words in {
        "en": "the and is are to of you what how please this with for can it my me your "
        "that be do i",
        "es": "el la los las un una que del por para con es en qué cómo puedes este esta esto "
        "porfa me mi hola gracias sobre y lo al pero muy hazme dame",
        "de": "der die das und ist nicht ich sie mit ein eine bitte auf für wie kannst einen "
        "dem den zu ins im diese dieser diesen mir",
        "fr": "le la les des est une pour avec vous pas ce cette du peux je tu sur dans "
        "bonjour merci et en moi au",
        "pt": "os que para uma um não do da em por você pode isso meu minha olá obrigado "
        "me este esta na",
        "it": "il gli che una con della sono puoi questo ciao grazie mi di",
        "nl": "het een van niet dat met voor je kun ik",
    }.items()
}
_STOP_INDEX: Final[dict[str, tuple[str, ...]]] = {
    word: tuple(code for code, stop in _STOP.items() if word in stop)
    for word in frozenset().union(*_STOP.values())
}
# stop words of no language but English's: none of them in an ASCII text means English
_FOREIGN: Final = frozenset(_STOP_INDEX) - _STOP["en"]
_MARKS: Final = {"es": "ñ¿¡", "de": "ßäöü", "fr": "çèêëàâùœ", "pt": "ãõç"}
_MARK: Final = re.compile("[" + "".join(_MARKS.values()) + "]")


def guess_language(text: str) -> str:
    """ISO 639-1 code of the instruction's language ("en" unless the text clearly says not)."""
    ends = text if len(text) <= 2 * END_CHARS else f"{text[:END_CHARS]}\n{text[-END_CHARS:]}"
    lowered = ends.lower()
    if not _NOT_LATIN.search(lowered) and not _MARK.search(lowered):
        words = lowered.encode("ascii", "replace").translate(_LETTERS_ONLY).decode().split()
        if _FOREIGN.isdisjoint(words):
            return "en"  # the common case, decided in a few microseconds
    parts = [text[:END_CHARS]]
    first_break = text.find("\n")
    if 0 <= first_break < END_CHARS:
        parts.insert(0, text[:first_break])
    last_break = text.rfind("\n")
    if last_break >= 0:
        parts.append(text[last_break + 1 :][-LINE_CHARS:])
    if len(text) > END_CHARS:
        parts.append(text[-END_CHARS:])
    for part in parts:
        found = _guess_part(part)
        if found != "en":
            return found
    return "en"


def _guess_part(part: str) -> str:
    lowered = part.lower()
    if lowered.isascii():
        return _latin(lowered.encode().translate(_LETTERS_ONLY).decode().split(), lowered)
    words = _LETTERS.findall(lowered)
    letters = sum(len(w) for w in words)
    if letters == 0:
        return "en"
    for code, script in _SCRIPTS:
        if len(script.findall(part)) >= 0.3 * letters:
            return code
    return _latin(words, lowered)


def _latin(words: list[str], lowered: str) -> str:
    if len(words) < 2:
        return "en"
    counts = dict.fromkeys(_STOP, 0)
    for word in _STOP_INDEX.keys() & set(words):
        for code in _STOP_INDEX[word]:
            counts[code] += 1
    best = max((c for c in counts if c != "en"), key=lambda c: counts[c])
    if counts[best] == 0:
        return "en"  # letters like ã alone are a name (São Paulo), not a language
    if not lowered.isascii():
        for code, marks in _MARKS.items():
            if any(mark in lowered for mark in marks):
                counts[code] += 2
        best = max((c for c in counts if c != "en"), key=lambda c: counts[c])
    if counts[best] > counts["en"] and (
        counts[best] >= 2 or (counts["en"] == 0 and len(words) >= 3)
    ):
        return best
    return "en"
