"""A GBNF grammar, generated from the catalog, that admits only valid plans.

Guarantees, by construction: calls numbered 1, 2, 3...; only known tools (or the
retrieved subset) with the right number and types of arguments; `"$K"` only inside
strings and only for an earlier call; real calendar dates; the plan ends with `join()`
after at most `max_calls` calls; strings and lists of bounded length, so a small model
cannot loop. Every plan the grammar admits passes `shared.validate`."""

from __future__ import annotations

from collections.abc import Sequence

from shared import catalog
from shared.catalog import Param, ParamType

MAX_TEXT_CHARS = 160  # per string argument
MAX_LIST_ITEMS = 8

_COMMON = r'''
ws-text ::= [^"\\$\n\r\t]
nd-text ::= [^"\\$\n\r\t0-9]
date ::= year "-" ( m31 "-" d31 | m30 "-" d30 | "02-" d28 ) " " hour ":" min ":" min
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


def plan_grammar(tools: Sequence[str] = (), max_calls: int = 10) -> str:
    """GBNF for plans over `tools` (all 16 when empty), at most `max_calls` calls."""
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
            args = ' ", " '.join(_param_rule(p, k) for p in tool.params)
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
    return "\n".join(rules) + "\n" + _COMMON
