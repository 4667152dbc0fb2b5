"""How the executors find what the user named: contacts, files and notes.

The same rules serve the simulated Mac and the AppleScript backend (which fetches the
candidates from the real apps and picks among them here), so both behave alike."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

import jellyfish
from rapidfuzz import fuzz, process

_HONORIFICS = {"dr", "mr", "mrs", "ms", "miss", "prof", "sir"}
# Short forms that are not simple prefixes of the full name.
_NICKNAMES: dict[str, set[str]] = {
    "nick": {"nicholas", "nicolas", "nikolai"}, "mike": {"michael"}, "dave": {"david"},
    "andy": {"andrew"}, "bill": {"william"}, "will": {"william"}, "bob": {"robert"},
    "rob": {"robert"}, "dick": {"richard"}, "rick": {"richard"}, "jim": {"james"},
    "jimmy": {"james"}, "peggy": {"margaret"}, "meg": {"margaret"}, "liz": {"elizabeth"},
    "beth": {"elizabeth"}, "kate": {"katherine", "catherine"}, "katie": {"katherine"},
    "chuck": {"charles"}, "ted": {"edward"}, "ned": {"edward"}, "jack": {"john"},
    "hank": {"henry"}, "tony": {"anthony"}, "sasha": {"alexander", "alexandra"},
    "lexi": {"alexandra"}, "tom": {"thomas"}, "steve": {"steven", "stephen"},
}


def sounds_like(word: str, name: str, *, min_ratio: float = 86, same_first_letter: bool = True) -> bool:
    """A word as a recognizer may have written a name: spelled close to it (rapidfuzz ratio
    at least `min_ratio`), or said the same (metaphone), starting with the same letter
    unless `same_first_letter` is off. Lowercase words of three letters or more."""
    if len(word) < 3:
        return False
    if fuzz.ratio(word, name) >= min_ratio:
        return True
    return jellyfish.metaphone(word) == jellyfish.metaphone(name) and (word[0] == name[0] or not same_first_letter)


_FILE_STOPWORDS = {"the", "my", "a", "an", "file", "pdf", "doc", "document", "please", "called"}


class LookupFailed(Exception):
    """Nothing (or too much) matched; the message is meant for the user."""


def normalize(text: str) -> str:
    """casefold, accents off ("Zoë" -> "zoe", "ğ" -> "g"), punctuation to spaces."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    plain = plain.replace("'", "")  # "O'Connor" -> "oconnor"
    return " ".join(re.sub(r"[^\w]+", " ", plain).split())


def _tokens(text: str, drop: set[str] | None = None) -> list[str]:
    toks = normalize(text).split()
    return [t for t in toks if not drop or t not in drop] or toks


def short_form_of(short: str, full: str) -> bool:
    return (len(short) >= 3 and full.startswith(short)) or full in _NICKNAMES.get(short, ())


def match_contact(query: str, names: Sequence[str]) -> str:
    """The one contact name that `query` means, tried from strict to loose:
    exact name; every word a word of the name (first names preferred); short forms
    ("Nick" for Nicholas); then fuzzy spelling. Several equally good matches is an
    error naming them, never a guess."""
    q = _tokens(query, _HONORIFICS)
    if not q:
        raise LookupFailed("no contact name given")
    normed = [(n, _tokens(n, _HONORIFICS)) for n in names]

    exact = [n for n, toks in normed if toks == q]
    if exact:
        return exact[0]

    def pick(cands: list[tuple[str, list[str]]], how: str) -> str | None:
        if not cands:
            return None
        if len(cands) > 1:  # "Eren": the one whose first name it is
            first = [c for c in cands if c[1][0] == q[0] or short_form_of(q[0], c[1][0])]
            if len(first) == 1:
                return first[0][0]
            listed = ", ".join(c[0] for c in cands)
            raise LookupFailed(f"{len(cands)} contacts match {query!r} ({how}): {listed}; say which")
        return cands[0][0]

    words = [(n, t) for n, t in normed if all(w in t for w in q)]
    found = pick(words, "by name")
    if found:
        return found
    shorts = [(n, t) for n, t in normed if all(any(short_form_of(w, x) or w == x for x in t) for w in q)]
    found = pick(shorts, "by short name")
    if found:
        return found
    choices = {n: " ".join(t) for n, t in normed}
    scored = process.extract(" ".join(q), choices, scorer=fuzz.WRatio, limit=2, score_cutoff=86)
    if scored:
        if len(scored) == 2 and scored[0][1] - scored[1][1] < 4:
            raise LookupFailed(
                f"{query!r} is close to both {scored[0][2]} and {scored[1][2]}; say which"
            )
        return scored[0][2]
    raise LookupFailed(f"no contact named {query!r}")


@dataclass(frozen=True)
class FileHit:
    path: str
    score: float


def file_query_words(query: str) -> list[str]:
    """The words of a file request that name the file ("the Q3 report" -> q3, report)."""
    return _tokens(query, _FILE_STOPWORDS)


def match_file(query: str, files: Sequence[tuple[str, str]]) -> str:
    """Spotlight-like: the file (path, text) whose name best fits the words the user said
    ("the Q3 report" finds "Q3 Financial Report.pdf"); failing that, one whose text does."""
    if query in {p for p, _ in files}:
        return query
    q = file_query_words(query)
    if not q:
        raise LookupFailed("no file name given")
    hits: list[FileHit] = []
    for path, _text in files:
        name_toks = _tokens(PurePosixPath(path).stem)
        per_word = []
        for w in q:
            best = 0.0
            for t in name_toks:
                if w == t:
                    best = 1.0
                elif len(w) >= 3 and t.startswith(w):
                    best = max(best, 0.9)
                else:
                    r = fuzz.ratio(w, t) / 100
                    best = max(best, r if r >= 0.8 else 0.0)
            per_word.append(best)
        score = sum(per_word) / len(q)
        if score >= 0.6:
            tie = fuzz.token_set_ratio(" ".join(q), " ".join(name_toks)) / 1000
            hits.append(FileHit(path, score + tie))
    if not hits:
        for path, text in files:
            body = set(_tokens(text))
            if body and sum(w in body for w in q) / len(q) >= 0.75:
                hits.append(FileHit(path, 0.5))
    if not hits:
        raise LookupFailed(f"no file matching {query!r}")
    hits.sort(key=lambda h: -h.score)
    return hits[0].path


def match_name(query: str, names: Sequence[str], what: str) -> str:
    """A note, folder, calendar or list by name: exact (ignoring case and accents), then
    the same words, then fuzzy spelling."""
    q = normalize(query)
    for n in names:
        if normalize(n) == q:
            return n
    qs = set(q.split())
    subset = [n for n in names if qs and qs <= set(normalize(n).split())]
    if len(subset) == 1:
        return subset[0]
    scored = process.extract(q, {n: normalize(n) for n in names}, scorer=fuzz.WRatio, limit=1,
                             score_cutoff=88)
    if scored:
        return scored[0][2]
    known = ", ".join(names) if names else "none"
    raise LookupFailed(f"no {what} named {query!r} (there are: {known})")
