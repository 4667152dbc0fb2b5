"""Time grounding: every time expression in a request, resolved against `now` by a library.

Microsoft's Recognizers-Text (datetimeV2) finds and resolves the expressions: dates, times,
parts of day, ranges, durations, relative times, holidays, spoken numbers. It was chosen on
figures (bench/grounding_bench.py compares it with dateparser, parsedatetime and ctparse on
tests/data/time_expressions.tsv). It returns every reading of an ambiguous phrase (last and
next Friday, 9 am and 9 pm), so the rules below choose one, each written down and tested:

- A weekday alone is the next one to come, today excluded; "this Friday" is the Friday of this
  week (the next one to come when it has passed); "next Friday" the Friday of next week.
- A date without a year is the next one on or after today; a holiday the next to come.
- A clock time without am/pm: 7-11 in the morning, 12 noon, 1-6 in the afternoon or evening,
  unless a part of day or a meal says otherwise ("tonight", "in the morning", "dinner").
- A time with no day is today's if still to come, else tomorrow's; with a day named elsewhere in
  the request ("remind me friday to call mom at 3"), on that day.
- A part of day alone: morning 9:00, afternoon 15:00, evening 18:00, tonight 20:00.
- "By Friday" is Friday; "(by the) end of the month" its last day; "(by the) end of the week" Friday;
  "this weekend" Saturday; "next week" its Monday; "the day before" / "the day after" a
  day already named are counted from it.
- "In two hours" is counted in real time in the user's time zone (across a daylight-saving
  change the clock moves by one hour more or less).
- A self-correction ("friday no wait tomorrow at eight", "at 3 actually 4"): the later one wins.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

MIDNIGHT = dt.time(0, 0)
PART_OF_DAY = {"MO": dt.time(9, 0), "AF": dt.time(15, 0), "EV": dt.time(18, 0), "NI": dt.time(20, 0),
               "MI": dt.time(12, 0), "DT": dt.time(12, 0)}
PM_WORDS = re.compile(r"\b(tonight|evening|night|afternoon|pm|p\.m\.|dinner|supper)\b", re.I)
AM_WORDS = re.compile(r"\b(morning|am|a\.m\.|breakfast)\b", re.I)
CORRECTION = re.compile(r"\b(no wait|wait no|no sorry|sorry|actually|i mean|make that|scratch that|rather|"
                        r"no no|or rather|correction)\b|\bno\b,?", re.I)
RELATIVE_CLOCK = re.compile(r"^(in\b|.*\b(from now|later)$)", re.I)
ANCHORED = re.compile(r"^(the )?(day|night|morning) (before|after)\b(?! (tomorrow|yesterday))", re.I)
# Between a day and a clock time, what says they belong to different requests.
CLAUSE_BREAK = re.compile(r"[.;!?]|,? (and )?(then|also|plus)\b|\band (text|email|remind|message|send|tell|set|add|"
                          r"make|create|schedule|book|put|open|show|find|reply|forward|invite|let|summarize)\b", re.I)
WEEKDAY_TIMEX = re.compile(r"^\(?XXXX-WXX-([1-7])")
THIS_WEEKDAY = re.compile(r"\bthis (mon|tues|wednes|thurs|fri|satur|sun)day\b", re.I)
IN_SPAN = re.compile(r"^in ((a|an|one|two|three|four|five|six|\d+) (days?|weeks?|months?))$", re.I)
# Phrases the recognizer takes for times that are not: "a 1:1", "the Q3 report".
NOT_TIMES = re.compile(r"^(the )?(\d{1,2}:\d|q[1-4])$", re.I)
BARE_HOUR = re.compile(r"\b(\d{1,2})\b(?!:)")
PARTS_OF_DAY = re.compile(r"^(this |in the )?(morning|afternoon|evening|night|tonight)$", re.I)
# Spoken-transcript words that hide a time from the recognizer ("at like 3", "um tomorrow").
FILLERS = re.compile(r"\b(um+|uh+|er+|hmm+)\b,?\s*|(?<=\bat )like\s+", re.I)
ORDINAL_DAY = re.compile(r"\b(on )?the (\d{1,2})(st|nd|rd|th)\b", re.I)
SPELLED = ((re.compile(r"\ban hour and a half\b", re.I), "90 minutes"),
           (re.compile(r"(?<![\d:])1:1(?![\d:])"), "one-on-one"),  # a meeting, not a clock time
           (re.compile(r"\bone and a half hours\b", re.I), "90 minutes"))


@dataclass(frozen=True)
class Moment:
    """A resolved point in time, or a range. `all_day`: a day with no time of its own."""

    phrase: str
    start: dt.datetime
    end: dt.datetime | None = None
    all_day: bool = False


@dataclass(frozen=True)
class Duration:
    phrase: str
    minutes: int


@dataclass(frozen=True)
class Times:
    moments: tuple[Moment, ...] = ()
    durations: tuple[Duration, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.moments and not self.durations


@functools.cache
def _model() -> Any:
    from recognizers_date_time import DateTimeRecognizer
    from recognizers_text import Culture

    return DateTimeRecognizer(Culture.English).get_datetime_model()


def _parse_dt(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def _ampm(hour: int, context: str) -> int:
    """The 24-hour reading of an hour (1-12) said without am/pm."""
    if hour == 12:
        return 12
    if PM_WORDS.search(context):
        return hour + 12
    if AM_WORDS.search(context):
        return hour
    return hour if 7 <= hour <= 11 else hour + 12


CLOCK = re.compile(r"(\d\d):(\d\d):\d\d$")


def _clock_of(v: dict[str, Any]) -> re.Match[str] | None:
    return CLOCK.search(v.get("value") or v.get("start") or "")


def _pick_clock(values: list[dict[str, Any]], context: str) -> tuple[list[dict[str, Any]], bool]:
    """Of readings 12 hours apart (the phrase said no am or pm), keep the ones our am/pm rule
    chooses; and whether the phrase was such."""
    clocks = [_clock_of(v) for v in values]
    if not all(clocks):
        return values, False
    readings = {(int(c.group(1)), c.group(2)) for c in clocks if c}
    if len(readings) != 2 or len({(h % 12, m) for h, m in readings}) != 1:
        return values, False
    hour = min(h for h, _ in readings) % 12 or 12
    want = _ampm(hour, context) % 24
    return [v for v, c in zip(values, clocks, strict=True) if c and int(c.group(1)) == want], True


def _after(start: dt.datetime, end: dt.time) -> dt.datetime:
    """The end of a range that starts at `start`: "from 11 to 1" ends at 13:00, "from 9 to 5"
    at 17:00, "from 10 pm to 2 am" the next day."""
    finish = dt.datetime.combine(start.date(), end)
    if finish <= start and (finish + dt.timedelta(hours=12)) > start and end.hour < 12:
        return finish + dt.timedelta(hours=12)
    while finish <= start:
        finish += dt.timedelta(days=1)
    return finish


def _month_end(day: dt.date) -> dt.date:
    """The last day of `day`'s month: what "end of the month" means."""
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def _week_friday(day: dt.date) -> dt.date:
    """The Friday of `day`'s week: what "end of the week" means."""
    return day + dt.timedelta(days=4 - day.weekday())


def _period_end(timex: str) -> dt.date | None:
    """The end of a month ("2027-03") or of a week ("2027-W09") the recognizer names; else None."""
    if m := re.fullmatch(r"(\d{4})-(\d{2})", timex):
        return _month_end(dt.date(int(m.group(1)), int(m.group(2)), 1))
    if m := re.fullmatch(r"(\d{4})-W(\d{2})", timex):
        return _week_friday(dt.date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1))
    return None


def _next_day(candidates: list[dt.date], today: dt.date, strictly_after: bool) -> dt.date:
    later = [d for d in sorted(candidates) if (d > today if strictly_after else d >= today)]
    return later[0] if later else max(candidates)


class _Resolver:
    def __init__(self, text: str, now: dt.datetime, tz: ZoneInfo | None) -> None:
        self.text, self.now, self.tz = text, now, tz
        self.today = now.date()

    def weekday(self, timex: str) -> dt.date | None:
        """"Friday": the next one after today."""
        m = WEEKDAY_TIMEX.match(timex)
        if not m:
            return None
        ahead = (int(m.group(1)) - 1 - self.today.weekday()) % 7 or 7
        return self.today + dt.timedelta(days=ahead)

    def day_of(self, values: list[dict[str, Any]], key: str = "value", phrase: str = "") -> dt.date:
        dates = [_parse_dt(v[key]).date() for v in values if v.get(key)]
        timex = values[0].get("timex", "")
        weekday = self.weekday(timex)
        if weekday is not None:
            return weekday
        if len(set(dates)) == 1:
            day = dates[0]
            if THIS_WEEKDAY.search(phrase) and day < self.today:  # "this thursday", passed
                day += dt.timedelta(days=7)
            return day
        return _next_day(dates, self.today, strictly_after=False)

    def relative(self, phrase: str, value: dt.datetime) -> dt.datetime:
        """"in two hours": real elapsed time in the user's zone, not wall-clock arithmetic."""
        if self.tz is None or not RELATIVE_CLOCK.match(phrase.strip()):
            return value
        elapsed = value - self.now
        if elapsed >= dt.timedelta(days=1):
            return value
        aware = self.now.replace(tzinfo=self.tz).astimezone(dt.UTC) + elapsed
        return aware.astimezone(self.tz).replace(tzinfo=None)

    def resolve(self, result: Any) -> Moment | Duration | tuple[str, Any] | None:
        """One recognizer result: a Moment, a Duration, or ("time", (t0, t1)) for a clock
        time or time range that still needs a day."""
        kind = result.type_name.split(".")[-1]
        values = result.resolution["values"]
        phrase = result.text
        context = self.text[max(0, result.start - 25): result.end + 25]
        if kind == "duration":
            seconds = float(values[0]["value"])
            return Duration(phrase, max(1, round(seconds / 60)))
        if kind == "set" or NOT_TIMES.match(phrase):
            return None
        values, ambiguous = _pick_clock(values, context)
        timex = values[0].get("timex", "")
        if kind in ("date", "daterange") and IN_SPAN.match(phrase):
            return self.in_span(phrase)
        if kind == "date":
            day = self.day_of(values, phrase=phrase)
            return Moment(phrase, dt.datetime.combine(day, MIDNIGHT), all_day=True)
        if kind == "datetime":
            moment = _parse_dt(values[0]["value"])
            if len(values) == 1 and not WEEKDAY_TIMEX.match(timex):
                return Moment(phrase, self.relative(phrase, moment))
            day = self.day_of(values, phrase=phrase)
            return Moment(phrase, dt.datetime.combine(day, moment.time()))
        if kind == "time":
            t = _parse_dt("2000-01-01 " + values[0]["value"]).time()
            return ("time", (t, None, ambiguous))
        if kind == "timerange":
            part = re.fullmatch(r"T(MO|AF|EV|NI|MI|DT)", timex)
            if part:
                return ("time", (PART_OF_DAY[part.group(1)], None, False))
            t0 = _parse_dt("2000-01-01 " + values[0]["start"]).time()
            t1 = _parse_dt("2000-01-01 " + values[0]["end"]).time()
            return ("time", (t0, t1, ambiguous))
        if kind == "daterange":
            return self.daterange(phrase, values, timex)
        if kind == "datetimerange":
            part = re.search(r"T(MO|AF|EV|NI|MI|DT)$", timex)
            day = self.day_of(values, "start", phrase)
            if part:
                return Moment(phrase, dt.datetime.combine(day, PART_OF_DAY[part.group(1)]))
            start, end = _parse_dt(values[0]["start"]), _parse_dt(values[0]["end"])
            begin = dt.datetime.combine(day, start.time())
            return Moment(phrase, begin, _after(begin, end.time()))
        return None

    def in_span(self, phrase: str) -> Moment | None:
        """"in a week", "in two weeks", "in 3 days": counted from today (the recognizer
        reads "in two weeks" as the week after next)."""
        durations = [r for r in _model().parse(IN_SPAN.match(phrase).group(1), self.now)  # type: ignore[union-attr]
                     if r.type_name.endswith("duration") and r.resolution]
        if not durations:
            return None
        days = round(float(durations[0].resolution["values"][0]["value"]) / 86400)
        return Moment(phrase, dt.datetime.combine(self.today + dt.timedelta(days=days), MIDNIGHT), all_day=True)

    def daterange(self, phrase: str, values: list[dict[str, Any]], timex: str) -> Moment | None:
        low = phrase.casefold()
        mod = values[0].get("Mod")
        if mod == "before" and values[0].get("end"):  # "by friday"
            period_end = _period_end(timex) if re.search(r"\bend of\b", low) else None
            if period_end is not None:  # "by the end of the month": its end (the recognizer says its middle)
                return Moment(phrase, dt.datetime.combine(period_end, MIDNIGHT), all_day=True)
            day = self.day_of(values, "end")
            return Moment(phrase, dt.datetime.combine(day, MIDNIGHT), all_day=True)
        start = values[0].get("start")
        end = values[0].get("end")
        if not start:
            return None
        first = _parse_dt(start).date()
        if "month" in low and ("end" in low or mod == "end"):
            day = _month_end(first)
        elif "week" in low and ("end" in low or mod == "end") and "weekend" not in low:
            day = _week_friday(first)
        elif timex.endswith("-WE"):
            day = first  # a weekend starts on Saturday
        elif end and (_parse_dt(end).date() - first).days <= 1:
            day = first
        else:
            day = first  # a week, a month: its first day
        day = max(day, self.today) if "end" not in low else day
        return Moment(phrase, dt.datetime.combine(day, MIDNIGHT), all_day=True)


Clock = tuple[dt.time, dt.time | None, bool]  # start, end of a range, said without am/pm


def _same_clause(text: str, a: tuple[int, str], b: tuple[int, str]) -> bool:
    """Whether two phrases (position, words) are close and of one request: not split by a
    sentence's end or by a next request ("... Aug 8. Text Keiko my flight leaves at 2:40")."""
    (p1, w1), (p2, _) = sorted([a, b])
    between = text[p1 + len(w1): p2]
    return len(between.split()) <= 8 and not CLAUSE_BREAK.search(between)


def _attach(clocks: list[tuple[int, str, Clock]], moments: list[tuple[int, Moment]],
            now: dt.datetime, text: str) -> list[tuple[int, Moment]]:
    """Clock times the recognizer found apart from their day: put each on the nearest day
    phrase of its own request (which it then replaces), or on today / tomorrow."""
    out = list(moments)
    days = [(pos, m) for pos, m in moments if m.all_day]
    for pos, phrase, (t0, t1, ambiguous) in clocks:
        near = [d for d in days if _same_clause(text, (pos, phrase), (d[0], d[1].phrase))]
        if near:
            dpos, day = min(near, key=lambda d: abs(d[0] - pos))
            out = [(p, m) for p, m in out if m is not day]
            days = [d for d in days if d[1] is not day]
            start = dt.datetime.combine(day.start.date(), t0)
            phrase = f"{day.phrase} ... {phrase}" if dpos < pos else f"{phrase} ... {day.phrase}"
            pos = min(pos, dpos)
        else:
            start = dt.datetime.combine(now.date(), t0)
            other = start + dt.timedelta(hours=12)
            if start <= now and ambiguous and other.date() == now.date() and other > now:
                start = other  # "at 9" said at 9:30 am: tonight, the half of the clock still to come
            elif start <= now:
                start += dt.timedelta(days=1)
        end = _after(start, t1) if t1 else None
        out.append((pos, Moment(phrase, start, end)))
    return sorted(out, key=lambda x: x[0])


def _drop_corrected(found: list[Found], text: str) -> list[Found]:
    """A correction between two expressions of one kind takes back the first."""
    keep: list[Found] = []
    for item in found:
        same = [k for k in keep if isinstance(k.item, Duration) == isinstance(item.item, Duration)]
        between = text[same[-1].end: item.start] if same else ""
        if same and len(between) <= 30 and CORRECTION.search(between):
            keep.remove(same[-1])
        keep.append(item)
    return keep


@dataclass
class Found:
    start: int
    end: int
    phrase: str
    item: Any  # Moment | Duration | ("time", Clock)


def _recognize(resolver: _Resolver, text: str, offset: int = 0) -> list[Found]:
    """The recognizer's results, resolved; a result it could not resolve ("wednesday from 2
    to 3") is split at "from" / "between" and its parts recognized on their own."""
    found: list[Found] = []
    results = _model().parse(text, resolver.now)
    if not results and re.match(r"^(from|between) ", text):  # "from 2 to 3" alone: say it as clock times
        results = _model().parse(BARE_HOUR.sub(r"\1:00", text), resolver.now)
    for r in results:
        if not r.resolution:
            # The recognizer may cut "from 2 to 3:30" after the 3: take the minutes too.
            tail = re.match(r":\d\d(\s?[ap]\.?m\.?)?", text[r.end + 1:], re.I)
            words = r.text + (tail.group(0) if tail else "")
            parts = re.split(r"\s+(?=from |between )", words, maxsplit=1)
            if len(parts) == 2:
                found += _recognize(resolver, parts[0], offset + r.start)
                found += _recognize(resolver, parts[1], offset + r.start + len(parts[0]) + 1)
            continue
        try:
            item = resolver.resolve(r)
        except (KeyError, ValueError, IndexError, TypeError):
            continue  # a reading we cannot use is no grounding, not an error
        if item is not None:
            found.append(Found(offset + r.start, offset + r.end + 1, r.text, item))
    return found


def _without_overlaps(found: list[Found]) -> list[Found]:
    """The recognizer can return overlapping results ("from 1 to 2:30" and "2:30 on sunday"):
    the first keeps its words; a later one keeps only its day."""
    out: list[Found] = []
    for f in sorted(found, key=lambda f: (f.start, -f.end)):
        if out and f.start < out[-1].end:
            if f.end <= out[-1].end:
                continue
            if isinstance(f.item, Moment):
                day = dt.datetime.combine(f.item.start.date(), MIDNIGHT)
                f = Found(out[-1].end, f.end, f.phrase, Moment(f.phrase, day, all_day=True))
            else:
                continue
        out.append(f)
    return out


def _nth_days(text: str, found: list[Found], today: dt.date) -> list[Found]:
    """"the 5th" that the recognizer missed: the next such day of a month, from today."""
    extra = []
    for m in ORDINAL_DAY.finditer(text):
        if any(f.start <= m.start(2) < f.end for f in found):
            continue
        n, day = int(m.group(2)), today
        for _ in range(62):
            if day.day == n:
                extra.append(Found(m.start(), m.end(), m.group(0), Moment(m.group(0), dt.datetime.combine(
                    day, MIDNIGHT), all_day=True)))
                break
            day += dt.timedelta(days=1)
    return extra


def _merge_same_day(moments: list[tuple[int, Moment]], text: str) -> list[tuple[int, Moment]]:
    """A day named right beside a time on that day ("thanksgiving dinner thursday from 5 to
    9") is one moment, not two."""
    out: list[tuple[int, Moment]] = []
    for pos, m in moments:
        if out:
            ppos, prev = out[-1]
            near = pos - (ppos + len(prev.phrase)) <= 12
            if near and prev.start.date() == m.start.date() and prev.all_day != m.all_day:
                out[-1] = (ppos, m if prev.all_day else prev)
                continue
        out.append((pos, m))
    return out


def normalize(text: str) -> str:
    """Spoken forms the recognizer misses, rewritten to ones it knows."""
    text = FILLERS.sub("", text)
    for pattern, replacement in SPELLED:
        text = pattern.sub(replacement, text)
    return text


def find_times(text: str, now: dt.datetime, timezone: str | None = None) -> Times:
    """Every time expression in `text`, resolved against `now` (local wall time)."""
    text = normalize(text)
    resolver = _Resolver(text, now, ZoneInfo(timezone) if timezone else None)
    found = _without_overlaps(_recognize(resolver, text))
    found = sorted(found + _nth_days(text, found, now.date()), key=lambda f: f.start)
    moments: list[tuple[int, Moment]] = []
    clocks: list[tuple[int, str, Clock]] = []
    durations: list[Duration] = []
    for f in _drop_corrected(found, text):
        item = f.item
        if isinstance(item, Duration):
            before = text[max(0, f.start - 3): f.start].casefold()
            if before.endswith("in "):  # "in 90 minutes": a moment, counted from now
                moments.append((f.start, Moment(f"in {f.phrase}", resolver.relative(
                    "in", now + dt.timedelta(minutes=item.minutes)))))
            else:
                durations.append(item)
        elif isinstance(item, Moment):
            if ANCHORED.match(f.phrase.strip()) and moments:
                sign = -1 if "before" in f.phrase.casefold() else 1
                day = moments[-1][1].start.date() + dt.timedelta(days=sign)
                item = Moment(f.phrase, dt.datetime.combine(day, item.start.time()), all_day=item.all_day)
            moments.append((f.start, item))
        elif PARTS_OF_DAY.match(f.phrase) and moments and not moments[-1][1].all_day \
                and f.start - (moments[-1][0] + len(moments[-1][1].phrase)) <= 2:
            continue  # "two to four tomorrow afternoon": the afternoon is already said
        else:
            clocks.append((f.start, f.phrase, item[1]))
    placed = _merge_same_day(_attach(clocks, moments, now, text), text)
    return Times(tuple(m for _, m in placed), tuple(durations))


def notation(times: Times) -> str:
    """A compact form of what was found: "2026-11-24 09:00" a moment, "2026-11-24" a day,
    "2026-11-24 14:00-16:00" a range, "45min" a duration; "-" for nothing (the form of
    tests/data/time_expressions.tsv)."""
    items = []
    for m in times.moments:
        if m.all_day:
            items.append(f"{m.start:%Y-%m-%d}")
        elif m.end is None:
            items.append(f"{m.start:%Y-%m-%d %H:%M}")
        elif m.end.date() == m.start.date():
            items.append(f"{m.start:%Y-%m-%d %H:%M}-{m.end:%H:%M}")
        else:
            items.append(f"{m.start:%Y-%m-%d %H:%M}..{m.end:%Y-%m-%d %H:%M}")
    items += [f"{d.minutes}min" for d in times.durations]
    return " ; ".join(items) or "-"


@dataclass(frozen=True)
class TimeCase:
    now: dt.datetime
    text: str
    expected: str  # in notation()


def read_cases(path: str | Path) -> list[TimeCase]:
    """A file of time expressions: `now <TAB> request <TAB> expected`, # for comments."""
    cases = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        try:
            now, text, expected = line.split("\t")
            cases.append(TimeCase(dt.datetime.strptime(now, "%Y-%m-%d %H:%M"), text, expected.strip()))
        except ValueError as e:
            raise ValueError(f"{path}:{n}: not 'now<TAB>request<TAB>expected' ({e})") from None
    return cases
