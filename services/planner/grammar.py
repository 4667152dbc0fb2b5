"""A GBNF grammar, generated from the catalog, that admits only valid plans.

Guarantees, by construction: calls numbered 1, 2, 3...; only known tools (or the
retrieved subset) with the right number and types of arguments; `"$K"` only inside
strings and only for an earlier call; real calendar dates; the plan ends with `join()`
after at most `max_calls` calls; strings and lists of bounded length, so a small model
cannot loop. Every plan the grammar admits passes `shared.validate`.

With grounding (services/planner/grounding: `Offers`), arguments of the kinds code resolved
are allowed only from what was resolved: dates and durations, calendars, lists, folders and
priority; a reminder's all_day goes with its due date (True only at a day's midnight)."""

from __future__ import annotations

from collections.abc import Sequence

from services.planner.grounding import Offers
from shared import catalog
from shared.catalog import Param, ParamType

MAX_TEXT_CHARS = 160  # per string argument
MAX_LIST_ITEMS = 8

_COMMON = r'''
ws-text ::= [^"\\$\n\r\t]
nd-text ::= [^"\\$\n\r\t0-9]
date ::= day-date " " hour ":" min ":" min
day-date ::= year "-" ( m31 "-" d31 | m30 "-" d30 | "02-" d28 )
clock ::= ( "0" [1-9] | "1" [0-9] | "2" [0-3] ) ":" min ":" min | "00:" ( "0" [1-9] | [1-5] [0-9] ) ":" min
year ::= "20" [2-9] [0-9]
m31 ::= "01" | "03" | "05" | "07" | "08" | "10" | "12"
m30 ::= "04" | "06" | "09" | "11"
d28 ::= "0" [1-9] | "1" [0-9] | "2" [0-8]
d30 ::= d28 | "29" | "30"
d31 ::= d30 | "31"
hour ::= [01] [0-9] | "2" [0-3]
min ::= [0-5] [0-9]
'''


def _lit(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _rule_name(tool: str) -> str:
    return tool.replace("_", "-")  # GBNF rule names allow letters, digits and '-'


def _ref_alternatives(k: int) -> str:
    """`$1` .. `$(k-1)`: the calls before call k."""
    return " | ".join(_lit(f"${i}") for i in range(1, k))


def _param_rule(p: Param, k: int) -> str:
    t = p.type
    if t is ParamType.INT:
        if p.name == "priority":
            return '("0" | "1" | "5" | "9")'
        return '[1-9] [0-9]? [0-9]?'
    if t is ParamType.BOOL:
        return '("True" | "False")'
    if t is ParamType.STR_LIST:
        return f"list{k}"
    if p.choices:
        return "(" + " | ".join(_lit(f'"{c}"') for c in p.choices) + ")"
    if p.datetime:
        return '("\\"" date "\\""' + (' | "\\"\\""' if p.allow_empty else "") + ")"
    return f"str{k}"


def _quoted(values: Sequence[str]) -> str:
    return "(" + " | ".join(_lit(f'"{v}"') for v in values) + ")"


def _grounded_rules(offers: Offers) -> list[str]:
    """Rules for the arguments grounding resolved, shared by every call."""
    rules = ["g-priority ::= (" + " | ".join(_lit(str(p)) for p in offers.priorities) + ")"]
    for rule, names in (("g-calendar", offers.calendars), ("g-list", offers.reminder_lists),
                        ("g-folder", offers.note_folders)):
        # Names unknown: any text of the plan language's strings (references make no sense here).
        free = f'"\\"" ws-text{{0,{MAX_TEXT_CHARS}}} "\\""'
        rules.append(f"{rule} ::= " + (_quoted(names) if names is not None else free))
    if offers.starts is not None:
        pairs = [_lit(f'"{start}", "{end}"') for start, ends in offers.starts.items() for end in ends]
        rules.append("g-start-end ::= (" + " | ".join(pairs) + ")")
        rules.append(f"g-start ::= {_quoted(list(offers.starts))}")
    else:
        quote, between = _lit('"'), _lit('", "')
        rules.append(f"g-start-end ::= {quote} date {between} date {quote}")
        rules.append(f"g-start ::= {quote} date {quote}")
    if offers.durations is not None:
        rules.append("g-duration ::= (" + " | ".join(_lit(str(d)) for d in offers.durations) + ")")
    else:
        rules.append("g-duration ::= [1-9] [0-9]? [0-9]?")
    return rules


# Parameters whose values grounding decides, and the shared rule each takes them from.
GROUNDED_RULES = {"calendar": "g-calendar", "list_name": "g-list", "folder": "g-folder", "priority": "g-priority",
                  "duration": "g-duration", "start_time": "g-start"}


def _grounded_args(tool: catalog.Tool, k: int, offers: Offers) -> str:
    """A tool's argument list where grounding decides some of them."""
    def rule(p: Param) -> str:
        return GROUNDED_RULES.get(p.name) or _param_rule(p, k)

    if tool.name == "create_calendar_event":
        parts = [rule(tool.params[0]), "g-start-end", *(rule(p) for p in tool.params[3:])]
        return ' ", " '.join(parts)
    if tool.name == "create_reminder" and offers.reminder_dues is not None:
        between = ' ", " '.join(rule(p) for p in tool.params[2:5])  # notes, list, priority
        alternatives = [_lit(f'"{due}", ') + f' {between} ", " ' + _lit(str(all_day))
                        for due, all_day in offers.reminder_dues]
        return f'{rule(tool.params[0])} ", " ( ' + " | ".join(alternatives) + " )"
    if tool.name == "create_reminder":
        # No time found: a due date may still be written, all_day True exactly at midnight.
        between = ' ", " '.join(rule(p) for p in tool.params[2:5])
        none, quote, midnight, closing = _lit('"", '), _lit('"'), _lit(' 00:00:00", '), _lit('", ')
        return (f'{rule(tool.params[0])} ", " ( {none} {between} ", False" '
                f'| {quote} day-date {midnight} {between} ", True" '
                f'| {quote} day-date " " clock {closing} {between} ", False" )')
    return ' ", " '.join(rule(p) for p in tool.params)


def plan_grammar(tools: Sequence[str] = (), max_calls: int = 10, offers: Offers | None = None) -> str:
    """GBNF for plans over `tools` (all 16 when empty), at most `max_calls` calls; with
    `offers`, grounded arguments only from them."""
    names = list(tools) or list(catalog.TOOL_NAMES)
    for n in names:
        catalog.get(n)  # unknown names fail here, loudly
    rules = ["root ::= plan1"]
    for k in range(1, max_calls + 2):
        head = _lit(f"{k}. ")
        if k == max_calls + 1:
            rules.append(f"plan{k} ::= {head} \"join()\"")
            continue
        rules.append(f"plan{k} ::= {head} ( call{k} \"\\n\" plan{k + 1} | \"join()\" )")
        rules.append(f"call{k} ::= " + " | ".join(f"{_rule_name(n)}{k}" for n in names))
        for n in names:
            tool = catalog.get(n)
            args = _grounded_args(tool, k, offers) if offers else ' ", " '.join(_param_rule(p, k) for p in tool.params)
            rules.append(f'{_rule_name(n)}{k} ::= "{n}(" {args} ")"')
        if k == 1:
            text = f"ws-text{{0,{MAX_TEXT_CHARS}}}"
            rules.append(f'str{k} ::= "\\"" {text} "\\""')
        else:
            refs = _ref_alternatives(k)
            # A string is a reference to an earlier result, or text that may mention one.
            rules.append(f'str{k} ::= "\\"" ( ( {refs} ) | text{k} ) "\\""')
            # A reference is followed by a non-digit, so "$1" then "0" never reads as "$10".
            rules.append(f"text{k} ::= ( ws-text | ( {refs} ) nd-text ){{0,{MAX_TEXT_CHARS}}} ( {refs} )?")
        rules.append(f'list{k} ::= "[" ( str{k} ( ", " str{k} ){{0,{MAX_LIST_ITEMS - 1}}} )? "]"')
    if offers:
        rules += _grounded_rules(offers)
    return "\n".join(rules) + "\n" + _COMMON
