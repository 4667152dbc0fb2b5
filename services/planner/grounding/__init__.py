"""Grounding: what the request says that code can resolve before the model plans.

The model chooses, code computes. Before planning, this finds and resolves
- every time expression (times.py: a date library plus written-down rules),
- the calendars, reminder lists and note folders the request names, among those the Mac has,
- the notes and contacts it names, matched the way the executor matches (exact, first name,
  short form, spelling, sound-alike), so "text Sid" can write "Sid Jha",
- the priority it says in words.

One place decides what is offered (`Grounding.offers()`): the prompt's block of found values
(`Grounding.prompt_block()`), the plan grammar (services/planner/grammar.py), the training data
generator (pippin/datagen.py) and the tests all read it."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from services.planner.grounding.times import Moment, Times, find_times
from shared import matching
from shared.validate import DATETIME_FORMAT
from shared.wire import MacInventory

DEFAULT_MINUTES = 60  # a meeting lasts an hour unless said (the conventions)


@dataclass(frozen=True)
class Inventory:
    """What the Mac has: the names an argument of each kind may take."""

    calendars: tuple[str, ...] = ()
    reminder_lists: tuple[str, ...] = ()
    note_folders: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    contacts: tuple[str, ...] = ()
    timezone: str | None = None

    @classmethod
    def from_message(cls, news: MacInventory) -> Inventory:
        """The executor's `inventory` news: the names the Mac it drives has now. ValueError
        for names that are not text (the news is then counted as bad and dropped)."""
        kinds = {"calendars": news.calendars, "reminder_lists": news.reminder_lists,
                 "note_folders": news.note_folders, "notes": news.notes, "contacts": news.contacts}
        for kind, names in kinds.items():
            if not all(isinstance(n, str) and n.strip() for n in names):
                raise ValueError(f"inventory: {kind} must be names (non-empty text)")
        return cls(**{k: tuple(v) for k, v in kinds.items()}, timezone=news.timezone or None)

    @classmethod
    def from_world(cls, world: Mapping[str, Any]) -> Inventory:
        """The simulated Mac's world file (tests/shared/world/default.json)."""
        notes = world.get("notes", [])
        return cls(calendars=tuple(world.get("calendars", [])),
                   reminder_lists=tuple(world.get("reminder_lists", [])),
                   note_folders=tuple(dict.fromkeys(n["folder"] for n in notes)),
                   notes=tuple(n["name"] for n in notes),
                   contacts=tuple(c["name"] for c in world.get("contacts", [])),
                   timezone=world.get("timezone"))


@dataclass(frozen=True)
class Offers:
    """What the grammar lets the model write for arguments of each kind.

    `starts` maps each moment it may write as a start (event, Zoom) to the ends it may pair
    with it; `reminder_dues` are (due, all_day) pairs ("" with False is always among them);
    None for a kind means any value of the right type (grounding found nothing to offer, or
    the Mac's names of that kind are unknown)."""

    starts: dict[str, tuple[str, ...]] | None = None
    reminder_dues: tuple[tuple[str, bool], ...] | None = None
    durations: tuple[int, ...] | None = None
    calendars: tuple[str, ...] | None = None
    reminder_lists: tuple[str, ...] | None = None
    note_folders: tuple[str, ...] | None = None
    priorities: tuple[int, ...] = (0, 1, 5, 9)


@dataclass(frozen=True)
class Grounding:
    times: Times = field(default_factory=Times)
    # Named in the request, as the Mac spells them; None where the Mac's names are unknown.
    calendars: tuple[str, ...] | None = None
    reminder_lists: tuple[str, ...] | None = None
    note_folders: tuple[str, ...] | None = None
    notes: tuple[tuple[str, str], ...] = ()  # (as said, the note's name)
    people: tuple[tuple[str, str], ...] = ()  # (as heard, the contact's name)
    priority: int | None = None  # said in words: 1 high, 5 medium, 9 low
    query: str = ""

    def offers(self) -> Offers:
        t = self.times
        starts: dict[str, tuple[str, ...]] | None = None
        dues: tuple[tuple[str, bool], ...] | None = None
        durations: tuple[int, ...] | None = None
        if t.moments:
            stated = tuple(dict.fromkeys(d.minutes for d in t.durations))
            # More moments than lengths said: some meeting keeps the default hour.
            if len([m for m in t.moments if not m.all_day and not m.end]) > len(stated):
                stated = (*stated, DEFAULT_MINUTES)
            starts = {}
            due_list: list[tuple[str, bool]] = []
            for m in t.moments:
                ends = [m.end] if m.end else [m.start + dt.timedelta(minutes=n) for n in stated]
                key = _fmt(m.start)
                starts[key] = tuple(dict.fromkeys([*starts.get(key, ()), *map(_fmt, ends)]))
                due_list.append((key, m.all_day))
            dues = (*dict.fromkeys(due_list), ("", False))
            spans = [round((m.end - m.start).total_seconds() / 60) for m in t.moments if m.end]
            durations = tuple(dict.fromkeys([*stated, *spans]))
        elif t.durations:
            durations = tuple(dict.fromkeys(d.minutes for d in t.durations))
        # A list named ("put bread on the Groceries list") is a reminder without the word.
        reminders = len(REMINDER_WORDS.findall(self.query)) + len(self.reminder_lists or ())
        events = len([m for m in t.moments if not m.all_day])

        def names(found: tuple[str, ...] | None, intents: int) -> tuple[str, ...] | None:
            """"" unless the user names one; "" too when the request has more intents of that
            kind than names ("on my Work calendar ... and lunch friday at noon")."""
            if found is None:
                return None
            return (*found, "") if not found or intents > len(found) else found

        priorities = (0,) if self.priority is None else (self.priority, 0) if reminders > 1 else (self.priority,)
        return Offers(starts=starts, reminder_dues=dues, durations=durations,
                      calendars=names(self.calendars, events),
                      reminder_lists=names(self.reminder_lists, reminders),
                      note_folders=names(self.note_folders, len(NOTE_WORDS.findall(self.query))),
                      priorities=priorities)

    def prompt_block(self) -> str:
        """The found values, one compact line each, for the prompt ("" when nothing was found)."""
        lines = []
        for m in self.times.moments:
            value = f"{m.start:%Y-%m-%d}, all day" if m.all_day else _fmt(m.start)
            if m.end:
                value += f" to {_fmt(m.end)}"
            lines.append(f'"{m.phrase}" = {value}')
        lines += [f'"{d.phrase}" = {d.minutes} minutes' for d in self.times.durations]
        lines += [f'calendar "{c}"' for c in self.calendars or ()]
        lines += [f'list "{c}"' for c in self.reminder_lists or ()]
        lines += [f'folder "{c}"' for c in self.note_folders or ()]
        lines += [f'"{said}" = note "{name}"' for said, name in self.notes]
        lines += [f'"{heard}" = {name}' for heard, name in self.people]
        if self.priority is not None:
            lines.append(f"priority {self.priority}")
        return "Found: " + "; ".join(lines) + "." if lines else ""


def _fmt(moment: dt.datetime) -> str:
    return moment.strftime(DATETIME_FORMAT)


def _named(query: str, names: Sequence[str], kind_words: str) -> tuple[str, ...] | None:
    """The names followed by a word of their kind ("my Work calendar", "the Groceries list")
    or after "calendar called"; case and accents ignored. None when the Mac's names are unknown."""
    if not names:
        return None
    q = matching.normalize(query)
    out = []
    for name in names:
        n = re.escape(matching.normalize(name))
        if re.search(rf"\b{n} (?:{kind_words})\b|\b(?:{kind_words}) (?:called|named) {n}\b", q):
            out.append(name)
    return tuple(out)


REMINDER_WORDS = re.compile(r"\b(remind|reminder|reminders|don'?t let me forget)\b", re.I)
NOTE_WORDS = re.compile(r"\bnotes?\b", re.I)
PRIORITY_WORDS = ((re.compile(r"\b(low[ -]priority|not urgent|low importance)\b", re.I), 9),
                  (re.compile(r"\b(medium[ -]priority|normal priority|moderately important)\b", re.I), 5),
                  (re.compile(r"\b(urgent|urgently|important|high[ -]priority|asap|top priority)\b", re.I), 1))
# Words of a request that are never a person's name, whatever they sound like.
_COMMON_WORDS = """a about after again all also am an and any are as at back be bring by call can cc could
day do email emails for forward from get give go has have he her here him his how i if in into is it its just
know last late let like link list make me message messages mind my new next no note notes now of on one or our
out please put remind reminder say send she show so some tell text texts than thank thanks that the their them
then there they this to today tomorrow up us wait was we what when where which who will with would you your
zoom meeting meetings calendar event file report pdf directions map maps minutes hour hours week set add book
create schedule open find take sure okay ok see need want look up ask reply running dinner lunch meet"""
NOT_NAMES = frozenset(_COMMON_WORDS.split())


def _priority(query: str) -> int | None:
    for pattern, level in PRIORITY_WORDS:
        if pattern.search(query):
            return level
    return None


TITLES = frozenset({"dr", "doctor", "prof", "professor", "mr", "mrs", "ms", "miss", "coach", "aunt", "uncle"})


def _untitled(tokens: list[str]) -> list[str]:
    return tokens[1:] if len(tokens) > 1 and tokens[0] in TITLES else tokens


def match_people(query: str, contacts: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """Contacts the request names, matched as the executor matches (whole name, first name,
    short form, spelling) or by sound ("sit" for Sid, as Whisper hears it). A name taken
    back ("email ryan no sorry priya") is not among them: the later one wins."""
    words = matching.normalize(re.sub(r"['’]s\b", "", query)).split()  # "Sid's number": Sid
    found: list[tuple[int, int, str]] = []  # (first word, past the last word, contact)
    taken: set[int] = set()
    # A title is not a first name ("Dr. Hannah Weiss" is Hannah; "dry" must not sound like "dr").
    firsts = [(c, _untitled(matching.normalize(c).split())) for c in contacts]
    # Whole names first ("Sarah Kim" is not also "Sarah Lopez").
    for contact, toks in firsts:
        n = len(toks)
        for i in range(len(words) - n + 1):
            if n > 1 and words[i: i + n] == toks and not taken.intersection(range(i, i + n)):
                found.append((i, i + n, contact))
                taken.update(range(i, i + n))
    for i, w in enumerate(words):
        if i in taken or w in NOT_NAMES:
            continue
        hits = [c for c, toks in firsts if w == toks[0] or matching.short_form_of(w, toks[0])]
        if not hits:
            hits = [c for c, toks in firsts if w in toks[1:]]
        if not hits:
            hits = [c for c, toks in firsts if matching.sounds_like(w, toks[0])]
        if len(hits) == 1:
            found.append((i, i + 1, hits[0]))
    found.sort()
    kept = [f for k, f in enumerate(found)
            if k + 1 == len(found) or not _takes_back(words[f[1]: found[k + 1][0]])]
    return tuple(dict((" ".join(words[i:j]), c) for i, j, c in kept).items())


# Words said between two names that take the first one back, and the hesitations around them.
_TAKE_BACK = frozenset({"no", "wait", "sorry", "actually", "mean", "meant", "scratch", "rather", "correction"})
_AROUND_TAKE_BACK = _TAKE_BACK | {"i", "make", "that", "or", "uh", "um", "oh", "er"}


def _takes_back(between: list[str]) -> bool:
    """Whether the words between two names are a correction ("no sorry", "uh actually", "i mean")."""
    return bool(between) and set(between) <= _AROUND_TAKE_BACK and not _TAKE_BACK.isdisjoint(between)


def match_notes(query: str, notes: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """Notes whose whole name the request says ("my packing list", "the groceries note")."""
    q = matching.normalize(query)
    out = []
    for name in notes:
        n = matching.normalize(name)
        if re.search(rf"\b{re.escape(n)}\b", q):
            out.append((n, name))
    return tuple(out)


def ground(query: str, now: str | dt.datetime, inventory: Inventory | None = None) -> Grounding:
    """Everything the request says that code can resolve, against `now` and the Mac."""
    inv = inventory or Inventory()
    moment = now if isinstance(now, dt.datetime) else dt.datetime.strptime(now, DATETIME_FORMAT)
    return Grounding(times=find_times(query, moment, inv.timezone),
                     calendars=_named(query, inv.calendars, "calendar|cal"),
                     reminder_lists=_named(query, inv.reminder_lists, "list|reminders|reminders list|reminder list"),
                     note_folders=_named(query, inv.note_folders, "folder"),
                     notes=match_notes(query, inv.notes),
                     people=match_people(query, inv.contacts),
                     priority=_priority(query), query=query)


__all__ = ["Grounding", "Inventory", "Moment", "Offers", "Times", "ground"]
