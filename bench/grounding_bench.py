"""Time grounding: how many of our hand-written time expressions each date library resolves
exactly (tests/data/time_expressions.tsv: dates, times, parts of day, ranges, durations,
relative times, weekdays, holidays, spoken numbers, self-corrections; `now` across month
ends, a year end and both daylight-saving changes).

Each library is read as plainly as it allows: its first reading of each phrase, preferring
the future where it has that setting. "Recognizers-Text + our rules" is what Pippin uses
(services/planner/grounding/times.py). Note: the rules were written while reading this file's
failures, so that row is the fit, not a held-out figure; tests/data/time_expressions_heldout.tsv
was written after the rules were frozen and is reported apart."""

from __future__ import annotations

import datetime as dt
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from services.planner.grounding.times import Duration, Moment, Times, find_times, notation, read_cases

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
ZONE = "America/Los_Angeles"


def _moment(when: dt.datetime, has_time: bool) -> Moment:
    return Moment("", when if has_time else dt.datetime.combine(when.date(), dt.time()), all_day=not has_time)


def recognizers_plain(text: str, now: dt.datetime) -> Times:
    """Recognizers-Text alone: the first future reading of each result, no rules."""
    from services.planner.grounding.times import _model

    moments: list[Moment] = []
    durations: list[Duration] = []
    for r in _model().parse(text, now):
        if not r.resolution:
            continue
        kind = r.type_name.split(".")[-1]
        values = r.resolution["values"]
        if kind == "duration":
            durations.append(Duration("", round(float(values[0]["value"]) / 60)))
            continue
        readings = []
        for v in values:
            raw = v.get("value") or v.get("start")
            if not raw:
                continue
            with_date = raw if len(raw) > 8 else f"{now:%Y-%m-%d} {raw}"
            readings.append(dt.datetime.fromisoformat(with_date))
        future = [w for w in readings if w >= now.replace(hour=0, minute=0)] or readings
        if future:
            when = future[0]
            moments.append(_moment(when, kind != "date" and kind != "daterange"))
    return Times(tuple(moments), tuple(durations))


def dateparser_search(text: str, now: dt.datetime) -> Times:
    from dateparser.search import search_dates

    found = search_dates(text, languages=["en"], settings={"RELATIVE_BASE": now, "PREFER_DATES_FROM": "future"})
    moments = []
    for phrase, when in found or []:
        clock = any(ch.isdigit() for ch in phrase) and any(w in phrase for w in (":", "am", "pm", "at"))
        has_time = clock or "hour" in phrase or "minute" in phrase
        moments.append(_moment(when, has_time))
    return Times(tuple(moments))


def parsedatetime_nlp(text: str, now: dt.datetime) -> Times:
    import parsedatetime

    cal = parsedatetime.Calendar(version=parsedatetime.VERSION_CONTEXT_STYLE)
    found = cal.nlp(text, sourceTime=now) or ()
    return Times(tuple(_moment(when, ctx.hasTime) for when, ctx, _s, _e, _t in found))


def ctparse_first(text: str, now: dt.datetime) -> Times:
    import logging

    from ctparse import ctparse

    logging.getLogger("ctparse").setLevel(logging.ERROR)
    from ctparse.types import Duration as CtDuration
    from ctparse.types import Interval, Time

    parsed = ctparse(text, ts=now, timeout=1)
    if parsed is None:
        return Times()
    res: Any = parsed.resolution
    if isinstance(res, CtDuration):
        minutes = res.value * {"minutes": 1, "hours": 60, "days": 1440}.get(res.unit.value, 1)
        return Times((), (Duration("", int(minutes)),))
    def when(t: Any) -> dt.datetime:
        return dt.datetime(t.year, t.month, t.day, t.hour or 0, t.minute or 0)

    if isinstance(res, Interval) and res.t_from and res.t_to and res.t_from.year:
        return Times((Moment("", when(res.t_from), when(res.t_to)),))
    if isinstance(res, Time) and (res.isDateTime or res.isDate):
        return Times((_moment(when(res), res.isDateTime),))
    return Times()


def pippin(text: str, now: dt.datetime) -> Times:
    return find_times(text, now, ZONE)


LIBRARIES: dict[str, Callable[[str, dt.datetime], Times]] = {
    "Recognizers-Text + our rules (Pippin)": pippin,
    "Recognizers-Text alone": recognizers_plain,
    "dateparser (search_dates)": dateparser_search,
    "parsedatetime (nlp)": parsedatetime_nlp,
    "ctparse": ctparse_first,
}


def score(fn: Callable[[str, dt.datetime], Times], path: Path) -> dict[str, Any]:
    cases = read_cases(path)
    right, seconds, misses = 0, [], []
    for c in cases:
        t0 = time.perf_counter()
        try:
            got = notation(fn(c.text, c.now))
        except Exception as e:  # a library that crashes on a phrase resolves nothing
            got = f"error: {type(e).__name__}"
        seconds.append(time.perf_counter() - t0)
        if got == c.expected:
            right += 1
        else:
            misses.append(f"{c.now:%Y-%m-%d %H:%M} | {c.text} | want {c.expected} | got {got}")
    return {"cases": len(cases), "exact": right, "exact_pct": round(100 * right / len(cases), 1),
            "ms_median": round(1000 * statistics.median(seconds), 1), "misses": misses}


def run() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, fn in LIBRARIES.items():
        for label, path in (("written", DATA / "time_expressions.tsv"),
                            ("heldout", DATA / "time_expressions_heldout.tsv")):
            if path.exists():
                r = score(fn, path)
                out[f"{name}: {label}"] = f"{r['exact']}/{r['cases']} ({r['exact_pct']}%), {r['ms_median']} ms"
    return out


if __name__ == "__main__":
    import sys

    for name, fn in LIBRARIES.items():
        r = score(fn, DATA / (sys.argv[1] if len(sys.argv) > 1 else "time_expressions.tsv"))
        print(f"{name}: {r['exact']}/{r['cases']} ({r['exact_pct']}%), {r['ms_median']} ms median")
