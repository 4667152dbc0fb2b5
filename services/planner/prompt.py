"""The planner's prompt, built for small models and for llama.cpp's prefix cache.

Order matters: everything that is the same for every request (rules, tools, fixed
examples) comes first, so llama.cpp keeps its KV cache for that prefix and only the
request itself (and the retrieved examples, if any) is evaluated anew."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from services.planner.examples import EXAMPLES
from shared import catalog
from shared.cases import Example
from shared.validate import DATETIME_FORMAT

RULES = """\
Write a plan: numbered lines, one tool call per line, in the form N. tool(arg, ...), ending with N. join().
- "$K" as an argument (or inside a text) is the result of call K, which must come before.
- Look up a phone number with get_phone_number before send_sms, and an email address with get_email_address \
before emailing, inviting or adding someone to a Zoom meeting, unless the user spelled the number or address out.
- Find files with open_and_get_file_path before attaching or summarizing them.
- Dates are "YYYY-MM-DD HH:MM:SS". Meetings last 60 minutes unless the user says otherwise.
- A reminder on a day without a time: due "YYYY-MM-DD 00:00:00" and all_day True. No day: due "" and all_day \
False. Priority 0 unless the user says it is urgent/important (1), medium (5) or low (9).
- A reminder that only mentions a person needs no lookup.
- Calendar, list and folder are "" unless the user names one.
- A Zoom meeting that goes on the calendar: the event's location is the Zoom link "$K" and its invitees are []; \
the people are invited on the Zoom meeting.
- Directions start from "" (here) unless the user says where; transport "d" drive, "w" walk, "r" transit.
- Reading the calendar, deleting things, phone calls, music, weather and general questions have no tool: \
the plan is just 1. join()"""


def tool_section(tools: Sequence[str]) -> str:
    lines = []
    for name in tools:
        t = catalog.get(name)
        lines.append(f"{t.signature()}\n    {t.description}")
    return "\n".join(lines)


def date_context(now: str) -> str:
    """The moment of the request, with the next days spelled out: small models resolve
    "Friday" far better from a table than by counting."""
    t = dt.datetime.strptime(now, DATETIME_FORMAT)
    days = []
    for i in range(1, 8):
        d = t + dt.timedelta(days=i)
        label = "tomorrow" if i == 1 else d.strftime("%A")
        days.append(f"{label} {d:%Y-%m-%d}")
    return f"Now: {t:%A} {t:%Y-%m-%d %H:%M}. Next days: " + ", ".join(days) + "."


def user_turn(query: str, now: str, context: str = "", found: str = "") -> str:
    """found: grounding's block of resolved values (services.planner.grounding), for a
    planner trained with it; it comes before the request so that the request stays last."""
    turn = f"{date_context(now)}\n{found + chr(10) if found else ''}Request: {query}"
    if context:
        turn += (f"\nAn earlier plan for this request ran with these results:\n{context}\n"
                 "Write a new plan for the whole request that avoids these failures. "
                 "Calls written exactly as before are not run again.")
    return turn


DECIDE_SYSTEM = """You check the results of a plan that was run for a user's request on their Mac.
Answer Replan if a different plan would likely succeed where this one failed: a name spelled another way, \
a file under another name, a step that was missing or wrong.
Answer Finish if the results do what was asked, or if no plan could do better (the tools cannot do it, \
the person or file does not exist, the user declined)."""


def decide_prompt(query: str, observations: str) -> Prompt:
    return Prompt(DECIDE_SYSTEM, (), f"Request: {query}\nResults:\n{observations}\nFinish or Replan?")


@dataclass(frozen=True)
class Prompt:
    system: str
    shots: tuple[tuple[str, str], ...]  # (user turn, plan) pairs
    user: str

    def render(self, template: str) -> str:
        if template == "chatml":
            parts = [f"<|im_start|>system\n{self.system}<|im_end|>\n"]
            for u, a in self.shots:
                parts.append(f"<|im_start|>user\n{u}<|im_end|>\n<|im_start|>assistant\n{a}<|im_end|>\n")
            parts.append(f"<|im_start|>user\n{self.user}<|im_end|>\n<|im_start|>assistant\n")
            return "".join(parts)
        if template == "alpaca":  # TinyAgent's released GGUFs
            shots = "".join(f"\n\n{u}\n{a}" for u, a in self.shots)
            return (f"### Instruction:\n{self.system}\n\nExamples:{shots}\n\n"
                    f"### Input:\n{self.user}\n\n### Response:\n")
        raise ValueError(f"unknown prompt template {template!r} (chatml or alpaca)")


TEMPLATES = ("chatml", "alpaca")


# The prompt of a planner fine-tuned for it (`pippin train --prompt short`): the adapter has
# learned the tools, rules and plan language, so the prompt is just who it is, the date
# table and the request (~170 tokens instead of ~3,400: cheap to train on a CPU, and each
# token it writes costs less than with a long prompt in the cache).
SHORT_SYSTEM = "You are Pippin, an assistant on the user's Mac. You turn a request into a plan of tool calls."
# "grounded": the short prompt plus grounding's block of resolved times and names.
PROMPT_STYLES = ("full", "short", "grounded")


def build_short_prompt(query: str, now: str, context: str = "", found: str = "") -> Prompt:
    return Prompt(SHORT_SYSTEM, (), user_turn(query, now, context, found))


def build_prompt(query: str, now: str, tools: Sequence[str] = (),
                 examples: Sequence[Example] | None = None, context: str = "") -> Prompt:
    """tools: the subset to offer (all, in catalog order, when empty). Catalog order is kept
    so that requests retrieving the same tools share the longest prefix."""
    chosen = [n for n in catalog.TOOL_NAMES if not tools or n in tools]
    system = (
        "You are Pippin, an assistant on the user's Mac. You turn a request into a plan of tool calls.\n\n"
        f"{RULES}\n\nTools:\n{tool_section(chosen)}"
    )
    shots = tuple((user_turn(e.query, e.now), e.plan) for e in (EXAMPLES if examples is None else examples))
    return Prompt(system, shots, user_turn(query, now, context))
