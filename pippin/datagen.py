"""Training data: requests with reference plans, made from a seed by Pippin's own code.

Each sample is one to five intents (text someone, email files, add an event, remind,
notes, maps, Zoom, summaries flowing into notes, texts and emails, lookups) or a near-miss
request no tool serves (timers, alarms, calling, reading mail, marking a reminder done),
phrased in one of several styles (imperative, polite, indirect, spoken: lowercase without
punctuation, fillers, self-corrections, dropped small words and homophones as a recognizer
writes them), asked at a random moment so relative dates must be resolved. Each sample has
its own address book: people are said by first name, full name, title or a sound-alike
spelling, and plans name them as the Mac's contacts do (a name the Mac lacks stays as said).
A person looked up once is not looked up again. People, files, notes and places are
synthetic, never the evaluation world's, so a model learns the skill, not the names. Every
plan passes the validator; the eval queries never appear (see overlap()).

Plans follow the conventions of tests/shared/eval/README.md (lookups first, 60-minute
meetings, all-day reminders, Zoom link as the event location, ...)."""

from __future__ import annotations

import calendar
import datetime as dt
import json
import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.plan import render_plan
from shared.validate import DATETIME_FORMAT, validate_plan

FIRST = ["Alex", "Bianca", "Chen", "Dario", "Elif", "Farah", "Gideon", "Hiro", "Ines", "Jonas", "Keiko", "Luca",
         "Mira", "Nadia", "Oscar", "Petra", "Quinn", "Rafael", "Sana", "Tobias", "Uma", "Viktor", "Wren", "Yusuf",
         "Zara", "Amara", "Bruno", "Celine", "Dmitri", "Esme", "Felix", "Greta", "Hamid", "Isla", "Jasper",
         "Kira", "Leon", "Marisol", "Nikhil", "Olga", "Pablo", "Rosa", "Stellan", "Talia", "Ulrich", "Vera",
         "Wendell", "Ximena", "Yara", "Zeke", "Anouk", "Bashir", "Cleo", "Dev", "Fatima", "Gus", "Harriet"]
LAST = ["Okafor", "Lindqvist", "Moreau", "Tanaka", "Rossi", "Novak", "Haddad", "Kowalski", "Fernandes", "Brandt",
        "Iyer", "Mensah", "Castillo", "Duarte", "Nakamura", "Sorensen", "Abbott", "Varga", "Quintero", "Whitfield",
        "Achebe", "Bergstrom", "Calloway", "Delacroix", "Esposito", "Fitzgerald", "Guerrero", "Holm"]
RELATIONS = ["Dad", "Grandma", "my sister", "my brother", "my landlord", "my dentist", "Mom", "Grandpa", "my boss"]
TITLES = [("dr", "Dr."), ("doctor", "Dr."), ("professor", "Prof."), ("coach", "Coach")]
FILES = ["budget spreadsheet", "onboarding checklist", "grant proposal", "floor plan", "tax return",
         "travel itinerary", "pitch deck", "rental agreement", "design spec", "incident report", "syllabus",
         "insurance policy", "project timeline", "research paper", "invoice from March", "wedding photos",
         "offer letter", "release notes", "quarterly forecast", "lab results", "annual report", "sales report",
         "Q1 report", "plane ticket", "concert tickets", "passport scan", "meeting minutes", "headshot",
         "slides from Monday", "signed contract", "cover letter", "receipt from the hotel", "board memo"]
PDFS = ["grant proposal", "research paper", "insurance policy", "design spec", "incident report", "syllabus",
        "lab results", "offer letter", "whitepaper draft", "user study"]
NOTES = ["Packing list", "Book ideas", "Gift ideas", "Recipes to try", "Meeting notes", "Garden plans",
         "Reading list", "Podcast ideas", "Home repairs", "Trip to Lisbon"]
# Notes named with one word, as people often do (the name is not a kind of list).
NOTE_WORDS = ["Bakeries", "Sourdough", "Tokyo", "Garage", "Passwords hint", "Ramen", "Bikes", "Vinyl", "Wine",
              "Plants", "Sketches", "Quotes", "Tea", "Hiking", "Brunch spots", "Taxes", "Piano", "Camera"]
FOLDERS = ["Personal", "Work", "Travel", "Ideas"]
PLACES = ["Golden Gate Park", "the Louvre", "Union Station", "the public library", "Lake Merritt",
          "the farmers market", "Central Park", "the airport", "Fenway Park", "the science museum",
          "Pike Place Market", "the city hall"]
CALENDARS = ["Work", "Home", "Family", "Side project"]
LISTS = ["Groceries", "Errands", "Work", "Home"]
MESSAGES = [("i'm running ten minutes late", "I'm running ten minutes late."),
            ("dinner is at eight", "Dinner is at eight."), ("the meeting moved to 3", "The meeting moved to 3."),
            ("i'll bring the snacks", "I'll bring the snacks."), ("happy birthday", "Happy birthday!"),
            ("can we push our call to tomorrow", "Can we push our call to tomorrow?"),
            ("i'm outside", "I'm outside."), ("the package arrived", "The package arrived."),
            ("thanks for today", "Thanks for today!"), ("the keys are under the mat", "The keys are under the mat."),
            ("we need more coffee filters", "We need more coffee filters."),
            ("the demo went great", "The demo went great."), ("call me when you land", "Call me when you land."),
            ("i'm on my way", "I'm on my way."), ("i'm stuck in traffic", "I'm stuck in traffic."),
            ("i'll be a few minutes late", "I'll be a few minutes late."), ("running behind", "Running behind."),
            ("i'm at the front door", "I'm at the front door."), ("good luck today", "Good luck today!"),
            ("see you soon", "See you soon."), ("i left my charger at your place", "I left my charger at your place."),
            ("can you pick up milk", "Can you pick up milk?"),
            ("the game starts at seven", "The game starts at seven."),
            ("i'll call you back", "I'll call you back."), ("congrats on the new job", "Congrats on the new job!"),
            ("i'm home", "I'm home."), ("don't wait up", "Don't wait up."), ("lunch is on me", "Lunch is on me."),
            ("the wifi password is on the fridge", "The wifi password is on the fridge."),
            ("are we still on for tonight", "Are we still on for tonight?"), ("miss you", "Miss you!"),
            ("i just landed", "I just landed."), ("the doors open at six", "The doors open at six.")]
# A message is any sentence: a subject, a state, and now and then a reason (compositional,
# so the model learns that what follows "text X that" is the message, whatever it says).
MESSAGE_SUBJECTS = [("i'm", "I'm"), ("we're", "We're"), ("i am", "I am"), ("the kids are", "The kids are"),
                    ("my train is", "My train is"), ("the bus is", "The bus is")]
MESSAGE_STATES = ["running late", "almost there", "five minutes away", "stuck at work", "leaving now",
                  "parking", "in the lobby", "going to be late", "at the station", "still in the meeting",
                  "delayed", "on the way back"]
MESSAGE_REASONS = ["", "", "", " because of traffic", " because the meeting ran over", ", sorry",
                   ", start without me", ", save me a seat"]
# News about something ("the plumber is here") and what the sender will do ("i'll grab dinner").
NEWS_THINGS = ["the train", "my flight", "the delivery", "the plumber", "dinner", "the babysitter", "the movie",
               "the car", "the cake", "practice", "the school bus", "the landlord"]
NEWS_STATES = ["is delayed", "is cancelled", "is here", "is on time", "got moved", "is starting late",
               "is running behind", "is ready", "went well", "is off", "is fixed", "was rescheduled"]
WILL_DO = ["pick up the kids", "grab dinner on the way", "be home around six", "bring the wine", "call you tonight",
           "walk the dog", "pick you up at the station", "swing by after work", "send the photos later",
           "book the restaurant", "handle the tickets", "feed the cat", "be there in ten", "miss practice today"]
EVENTS = ["design review", "team lunch", "1:1", "budget sync", "dentist appointment", "yoga class", "book club",
          "sprint planning", "coffee chat", "parent-teacher meeting", "interview debrief", "roadmap review"]
TASKS = ["pay rent", "water the plants", "renew my passport", "buy milk", "call the bank", "book flights",
         "pick up dry cleaning", "submit the expense report", "back up my laptop", "order a birthday cake",
         "return the library books", "schedule a haircut"]
# Things put on a shopping list one by one (each becomes a reminder on that list).
SHOPPING = ["bread", "coffee beans", "bananas", "dish soap", "paper towels", "olive oil", "batteries", "butter",
            "rice", "tomatoes", "toothpaste", "almond milk", "apples", "cat food", "sparkling water", "pasta",
            "yogurt", "spinach", "lemons", "trash bags"]
SUBJECTS = ["the offsite", "next week's launch", "the hiring plan", "our trip", "the contract", "the new logo"]
# Requests no tool serves. Many are near misses of what the tools do (a reminder marked done,
# not made; a call, not a text; mail read, not written), so the model learns the edge.
DECLINES = ["what's the weather like {day}", "play some jazz", "call {p}", "what's on my calendar {day}",
            "delete the {f}", "how tall is mount everest", "turn off the lights", "read me my last email",
            "what time is it in tokyo", "set an alarm for {t}", "who won the game last night",
            "translate good morning into french", "delete my reminders", "what meetings do I have {day}",
            "mark the reminder to {task} as done", "check off {task} on my list", "i already did the {task} reminder, "
            "complete it", "set a timer for {n} minutes", "start a {n} minute timer", "wake me up {day} at {t}",
            "put my phone on do not disturb until {t}", "silence my phone until {t}", "read me my new emails",
            "what's in my inbox",
            "did {p} email me back", "any new texts from {p}", "facetime {p}", "ring {p}", "give {p} a call",
            "call {p} {day} at {t}", "cancel my {event} {day}", "move my {event} to {day}",
            "delete the {note} note", "remove {p} from my contacts", "what's {p}'s birthday",
            "how long will it take to drive to work", "order an uber to {place}", "book a table for two {day}",
            "turn up the volume", "take a screenshot", "empty the trash",
            "unsubscribe me from this newsletter", "pay {p} back twenty dollars", "snooze my {t} alarm",
            "what did {p} text me", "clear my schedule {day}", "show me my reminders", "search my email for {f}"]
# General knowledge that names a place is still general knowledge: a place in a question is not a
# request for Maps ("what's the capital of Peru" opened Maps before these were taught).
PLACE_QUESTIONS = ["what's the capital of {country}", "what is the capital city of {country}",
                   "what's the population of {city}", "how many people live in {city}",
                   "what language do they speak in {country}", "what currency does {country} use",
                   "how big is {country}", "what's the weather in {city} {day}", "is it raining in {city}",
                   "what time is it in {city}", "who founded {city}", "what's the tallest mountain in {country}",
                   "when was {landmark} built", "tell me about the history of {landmark}", "what is {city} famous for",
                   "how old is {landmark}", "what's the time difference with {city}",
                   "who is the president of {country}"]
COUNTRIES = ["Peru", "France", "Japan", "Kenya", "Canada", "Brazil", "Norway", "Egypt", "Chile", "Vietnam",
             "Portugal", "Australia", "Mexico", "Iceland"]
CITIES = ["Lisbon", "Nairobi", "Osaka", "Toronto", "Seattle", "Cairo", "Lima", "Oslo", "Denver", "Sydney",
          "Hanoi", "Montreal"]
HOMOPHONES = {"to": "two", "for": "four", "two": "to", "right": "write", "their": "there", "there": "their",
              "by": "buy", "know": "no", "new": "knew", "here": "hear", "week": "weak", "meet": "meat"}
SMALL_WORDS = {"the", "a", "to", "my", "at", "on"}
CORRECTIONS = ["no sorry", "no wait", "i mean", "actually", "sorry i meant", "no no"]
# Compositional slots: a fixed list alone teaches the words, not the kind ("the Q1 report"
# is a file but "the Q3 report" was not); qualifier + kind makes file and note names the
# classifier has never seen.
FILE_KINDS = ["report", "deck", "slides", "budget", "invoice", "contract", "proposal", "spreadsheet", "memo",
              "spec", "roadmap", "itinerary", "boarding pass", "e-ticket", "visa", "receipt", "bank statement",
              "pay stub", "resume", "lease", "photo", "scan", "presentation", "agreement", "certificate",
              "transcript", "estimate", "quote", "manual", "brochure", "schedule", "checklist", "form",
              "application", "letter", "minutes", "forecast", "pdf", "document", "doc", "file", "poster"]
FILE_QUALIFIERS = ["Q1", "Q2", "Q3", "Q4", "2025", "2026", "2027", "March", "October", "final", "draft", "signed",
                   "latest", "new", "updated", "financial", "marketing", "team", "project", "hotel", "flight",
                   "tax", "medical", "insurance", "sales", "quarterly", "annual", "client", "vendor", "conference",
                   "train", "dental", "car", "home", "budget", "hiring", "launch", "board", "course", "school"]
NOTE_TOPICS = ["shopping", "reading", "movie", "wish", "bucket", "sprint", "retro", "lecture", "daily", "project",
               "holiday", "camping", "moving", "wedding", "party", "garden", "recipe", "workout", "research",
               "interview", "weekly", "team", "house", "birthday", "study", "travel", "ski trip", "road trip"]
NOTE_KINDS = ["list", "notes", "ideas", "log", "checklist", "plan", "todo list", "to-do list", "journal"]
NOTE_ITEMS = ["sunscreen", "call the plumber", "the Ottolenghi book", "ask about parking", "try the lemon pasta",
              "new fence posts", "oat milk", "batteries", "a phone charger", "book the venue", "rain jacket",
              "hiking boots", "a birthday card", "pick a paint color", "ask for a refund", "bread", "bananas",
              "coffee beans", "a travel adapter", "finished the slides, waiting on legal",
              "shipped the login fix, blocked on review", "met with design, next step is a prototype"]
STREETS = ["Valencia", "Main Street", "5th Avenue", "Elm Street", "Market", "Broadway", "Hayes", "Mission",
           "Oak Street", "Harbor Drive", "King Street", "Pine"]
SHOPS = ["the hardware store", "Whole Foods", "the bakery", "the post office", "Costco", "the pharmacy",
         "the gym", "Blue Bottle", "the bike shop", "the vet", "Target", "the DMV"]
FILLERS = ["um", "uh", "so", "okay so", "like", "hmm"]
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


@dataclass
class Step:
    """A call inside one intent; an argument that is a Ref points at an earlier step."""

    tool: str
    args: list[Any]


@dataclass(frozen=True)
class Ref:
    step: int  # index into the intent's steps
    inside: str = ""  # for "$K" inside a text: the text, with {} where $K goes


@dataclass
class Intent:
    name: str
    text: str  # the request fragment, without politeness or fillers
    steps: list[Step]


@dataclass
class Sample:
    query: str
    plan: str
    now: str
    tools: list[str]
    intents: list[str]
    style: str
    parts: list[tuple[str, list[str]]] = field(default_factory=list)  # each intent's words and tools
    inventory: dict[str, list[str]] = field(default_factory=dict)  # the Mac's names, for grounding

    def to_json(self) -> dict[str, Any]:
        return {"query": self.query, "plan": self.plan, "now": self.now, "tools": self.tools,
                "intents": self.intents, "style": self.style, "inventory": self.inventory}


@dataclass
class When:
    phrase: str  # "on friday at 3pm"
    moment: dt.datetime | None
    has_time: bool
    day: str = ""  # the day alone: "on friday"


def ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


NUMBER_WORDS = ["twelve", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven"]
MINUTE_WORDS = {15: "fifteen", 30: "thirty", 45: "forty five", 5: "oh five", 10: "ten", 20: "twenty", 40: "forty"}


def bare_hour_reads(hour: int) -> bool:
    """Whether a clock time said without am or pm reads as `hour` (grounding's rule: 7-11 in
    the morning, 12 noon, 1-6 in the afternoon or evening)."""
    return 7 <= hour <= 18


def clock_phrase(rng: random.Random, hour: int, minute: int, words: bool = True, ampm: bool = False) -> str:
    """A clock time as people say or type it: "3pm", "3:30 pm", "3" (where no am/pm reads
    right), "three thirty", "half past three", "quarter to four", "noon"; with `ampm`, only
    "3pm" or "3 pm" (no half of the clock left to guess)."""
    if not ampm and (hour, minute) == (12, 0) and rng.random() < 0.6:
        return "noon"
    h12, suffix = hour % 12 or 12, "am" if hour < 12 else "pm"
    clock = f"{h12}" if minute == 0 else f"{h12}:{minute:02d}"
    forms = [f"{clock}{suffix}", f"{clock} {suffix}"]
    if ampm:
        return rng.choice(forms)
    if bare_hour_reads(hour):
        forms += [clock]
        if words:
            word = NUMBER_WORDS[h12 % 12]
            spoken = {0: f"{word} o'clock", 30: f"half past {word}", 15: f"quarter past {word}",
                      45: f"quarter to {NUMBER_WORDS[(h12 + 1) % 12]}"}
            forms += [spoken.get(minute, f"{word} {MINUTE_WORDS.get(minute, '')}")]
            if minute in MINUTE_WORDS and minute not in (15, 45):
                forms += [f"{word} {MINUTE_WORDS[minute]}"]
    elif words and minute in (0, 30):
        part = "in the morning" if hour < 12 else ("in the evening" if hour >= 18 else "in the afternoon")
        forms += [f"{NUMBER_WORDS[h12 % 12]}{' thirty' if minute else ''} {part}"]
    return rng.choice(forms).strip()


def world_names() -> set[str]:
    """Contact, note and file names of the world the project is measured in (the
    repository's copy of the contract), each name and each of its words, case-folded: the
    data never uses them, so a model cannot learn the test world's names."""
    from shared import paths

    world = json.loads(paths.default_world().read_text(encoding="utf-8"))
    names = [c["name"] for c in world.get("contacts", [])] + [n["name"] for n in world.get("notes", [])]
    names += [Path(f["path"]).stem for f in world.get("files", [])]
    out = {n.casefold() for n in names}
    out |= {w.casefold() for n in names for w in n.split() if w[:1].isupper() and len(w) > 2}
    return out


def faker_names(seed: int, banned: set[str], n: int = 1500) -> tuple[list[str], list[str]]:
    """First and last names from Faker in several locales (seeded), none of the banned ones."""
    from faker import Faker

    fake = Faker(["en_US", "en_GB", "en_IN", "es_ES", "fr_FR", "de_DE", "it_IT", "pt_BR", "nl_NL", "pl_PL",
                  "sv_SE", "tr_TR", "ga_IE"])
    fake.seed_instance(seed)
    first = {fake.first_name() for _ in range(n)}
    last = {fake.last_name() for _ in range(n)}

    def keep(name: str) -> bool:
        return name.casefold() not in banned and " " not in name and "-" not in name

    return sorted(filter(keep, first)), sorted(filter(keep, last))


@dataclass
class Generator:
    seed: int = 0
    rng: random.Random = field(init=False)
    now: dt.datetime = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.now = dt.datetime(2027, 1, 1)
        banned = world_names()
        extra_first, extra_last = faker_names(self.seed, banned)
        self.first = [n for n in FIRST if n.casefold() not in banned] + extra_first
        self.last = [n for n in LAST if n.casefold() not in banned] + extra_last
        self.notes = [n for n in NOTES if n.casefold() not in banned]
        self.banned = banned
        self.mentioned: dict[str, list[str]] = {"contacts": [], "notes": []}
        self.contact: dict[str, str] = {}  # a person as said -> the name the plan looks up

    # ---- slots ---------------------------------------------------------------------------
    def person(self) -> str:
        """Someone as a user says them: first name, full name, a relation, a title and last
        name, or a spelling that sounds the same (as a recognizer may write it). The plan
        looks them up by their contact's name (`self.contact`); a few are not on the Mac,
        and the plan keeps the words said. Later intents often name someone said before."""
        rng = self.rng
        if self.contact and rng.random() < 0.2:
            return rng.choice(list(self.contact))
        firsts = {c.split()[0].casefold() for c in self.contact.values()}
        first = rng.choice([f for f in self.first if f.casefold() not in firsts] or self.first)
        last = rng.choice(self.last)
        full = f"{first} {last}"
        r = rng.random()
        contact: str | None = full
        if r < 0.4:
            said = first
        elif r < 0.76:
            said = full
        elif r < 0.85:
            said = rng.choice(RELATIONS)
            contact = said.removeprefix("my ").capitalize()
        elif r < 0.9:
            title, written = rng.choice(TITLES)
            said, contact = f"{title} {last}", f"{written} {first} {last}"
        elif r < 0.95:
            said = self.sound_alike(first)
        else:
            said, contact = rng.choice([first, full]), None
        if said in self.contact:  # said the same way as someone already named: that person
            return said
        self.contact[said] = contact or said
        if contact:
            self.mentioned["contacts"].append(contact)
        return said

    def sound_alike(self, name: str) -> str:
        """A spelling of `name` that sounds the same (metaphone), or the name itself."""
        import jellyfish

        swaps = [("ph", "f"), ("f", "ph"), ("c", "k"), ("k", "c"), ("y", "i"), ("i", "y"), ("ee", "i"), ("z", "s"),
                 ("s", "z"), ("ll", "l"), ("nn", "n"), ("tt", "t"), ("d", "t"), ("ie", "y"), ("a", "e"), ("o", "u")]
        low = name.lower()
        variants = [low.replace(a, b, 1) for a, b in swaps if a in low[1:]]
        sound = jellyfish.metaphone(low)
        good = [v for v in variants if v != low and v[0] == low[0] and jellyfish.metaphone(v) == sound]
        return self.rng.choice(good) if good else name

    def file(self) -> str:
        """A document's name as people say it: a fixed one, or qualifier(s) + a kind."""
        rng = self.rng
        if rng.random() < 0.4:
            return rng.choice(FILES)
        kind = rng.choice(FILE_KINDS)
        quals = rng.sample(FILE_QUALIFIERS, rng.choice([1, 1, 1, 2]))
        name = " ".join([*quals, kind])
        if rng.random() < 0.15:
            name = f"{kind} from {rng.choice(['last week', 'Monday', 'the trip', 'the bank', 'the lawyer'])}"
        return name

    def note_name(self) -> str:
        rng = self.rng
        r = rng.random()
        if r < 0.35:
            name = rng.choice(self.notes)
        elif r < 0.5:
            name = rng.choice([n for n in NOTE_WORDS if n.casefold() not in self.banned])
        else:
            while True:
                name = f"{rng.choice(NOTE_TOPICS)} {rng.choice(NOTE_KINDS)}".capitalize()
                if name.casefold() not in self.banned:
                    break
        self.mentioned["notes"].append(name)
        return name

    def place(self) -> str:
        rng = self.rng
        r = rng.random()
        if r < 0.5:
            return rng.choice(PLACES)
        if r < 0.75:
            return f"{rng.choice(SHOPS)} on {rng.choice(STREETS)}"
        if r < 0.9:
            return f"{rng.randint(10, 2999)} {rng.choice(STREETS)}"
        return "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(3))  # an airport code

    @staticmethod
    def place_name(said: str) -> str:
        """What Maps is asked for: the place's name, not the article said before it
        ("the Louvre" -> "Louvre", "the nearest Blue Bottle" -> "Blue Bottle")."""
        return re.sub(r"^(the |a )?(nearest |closest )?", "", said)

    def message(self) -> tuple[str, str]:
        """(as said, as written): a fixed message, or one with a time or a day in it."""
        rng = self.rng
        r = rng.random()
        if r < 0.35:
            return rng.choice(MESSAGES)
        if r < 0.45:
            thing, state = rng.choice(NEWS_THINGS), rng.choice(NEWS_STATES)
            return f"{thing} {state}", f"{thing[0].upper()}{thing[1:]} {state}."
        if r < 0.55:
            said_who, written_who = rng.choice([("i'll", "I'll"), ("i will", "I will"), ("i can", "I can"),
                                                ("i'm going to", "I'm going to"), ("we'll", "We'll")])
            do = rng.choice(WILL_DO)
            return f"{said_who} {do}", f"{written_who} {do}."
        if r < 0.75:
            (said_who, written_who), state = rng.choice(MESSAGE_SUBJECTS), rng.choice(MESSAGE_STATES)
            reason = rng.choice(MESSAGE_REASONS)
            return f"{said_who} {state}{reason}", f"{written_who} {state}{reason}."
        hour, minute = rng.randint(1, 11), rng.choice([0, 5, 15, 30, 40, 55])
        clock = f"{hour}" if minute == 0 else f"{hour}:{minute:02d}"
        day = rng.choice(WEEKDAYS)
        event = rng.choice(EVENTS)
        said = rng.choice([f"my flight leaves at {clock}", f"i'll be there at {clock}", f"the {event} moved to {day}",
                           f"i'm free on {day}", f"the train gets in at {clock}", f"dinner on {day} at {clock} works"])
        written = said.replace("i'll", "I'll").replace("i'm", "I'm")
        return said, written[0].upper() + written[1:] + "."

    def task(self) -> str:
        rng = self.rng
        if rng.random() < 0.7:
            return rng.choice(TASKS)
        return rng.choice([f"follow up with {self.person()}", "follow up", f"check in with {self.person()}",
                           f"call {self.person()}", "pack", "go shopping", f"reply to {self.person()}",
                           f"send the {self.file()}", f"print the {self.file()}",
                           # a person named in a task is not someone to text or email now
                           f"text {self.person()} about {rng.choice(SUBJECTS)}", f"text {self.person()} back",
                           f"email {self.person()} about {rng.choice(SUBJECTS)}"])

    def people(self, most: int = 3) -> list[str]:
        n = self.rng.choice([1] * 6 + [2] * 3 + list(range(3, most + 1)))
        out: list[str] = []
        while len(out) < n:
            p = self.person()
            if p not in out:
                out.append(p)
        return out

    @staticmethod
    def spoken_list(items: list[str]) -> str:
        return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]

    def when(self, need_time: bool = False, allow_none: bool = False, relative: bool = False) -> When:
        """A moment as said, resolved by the generator's own arithmetic (grounding must agree;
        where it does not, the sample teaches the model to live with the miss). `relative`
        allows "in two hours" (reminders, meetings soon)."""
        rng = self.rng
        if allow_none and rng.random() < 0.25:
            return When("", None, False)
        today = self.now.date()
        if relative and rng.random() < 0.15:
            amount, unit, said = rng.choice([(1, "hours", "in an hour"), (30, "minutes", "in half an hour"),
                                             (2, "hours", "in two hours"), (3, "hours", "in 3 hours"),
                                             (20, "minutes", "in 20 minutes"), (45, "minutes", "in 45 minutes"),
                                             (90, "minutes", "in an hour and a half"), (4, "hours", "in four hours")])
            moment = self.now + dt.timedelta(**{unit: amount})
            return When(said, moment, True, said)
        if rng.random() < 0.12:
            other = self.clock_alone() if need_time or rng.random() < 0.4 else self.day_span()
            if other is not None:
                return other
        kind = rng.random()
        if kind < 0.17:
            day, phrase = today, "today"
        elif kind < 0.37:
            day, phrase = today + dt.timedelta(days=1), "tomorrow"
        elif kind < 0.42:
            day, phrase = today + dt.timedelta(days=2), "the day after tomorrow"
        elif kind < 0.77:
            ahead = rng.randint(2, 7)
            day = today + dt.timedelta(days=ahead)
            phrase = ("on " if rng.random() < 0.6 else "") + WEEKDAYS[day.weekday()]
            if ahead == 7:
                phrase = "next " + WEEKDAYS[day.weekday()]
            elif day.weekday() > today.weekday() and rng.random() < 0.3:  # later this week
                phrase = "this " + WEEKDAYS[day.weekday()]
        else:
            day = today + dt.timedelta(days=rng.randint(8, 40))
            same_month = day.month == self.now.month
            phrase = rng.choice([f"on {day:%B} {day.day}", f"on {day:%B} {ordinal(day.day)}", f"{day:%b} {day.day}",
                                 f"on {day:%A} {day:%B} {day.day}",
                                 f"on the {ordinal(day.day)}" if same_month else f"on {day:%B} {day.day}"])
        # A part of the day alone, or with a clock time in it ("tomorrow morning at 8").
        if phrase in ("today", "tomorrow") and rng.random() < 0.25:
            part, hour = rng.choice([("morning", 9), ("afternoon", 15), ("evening", 18), ("night", 20)])
            said = {"today": {"night": "tonight", "evening": "this evening", "morning": "this morning",
                              "afternoon": "this afternoon"}[part], "tomorrow": f"tomorrow {part}"}[phrase]
            if day == today and hour <= self.now.hour:  # a part of today already gone: say tomorrow's
                day, said = today + dt.timedelta(days=1), f"tomorrow {part}"
            if rng.random() < 0.5:
                hours = {"morning": (7, 8, 10, 11), "afternoon": (13, 14, 16, 17), "evening": (18, 19),
                         "night": (19, 20, 21, 22)}[part]
                hour = rng.choice(hours)
                minute = rng.choice([0, 0, 30])
                h12 = hour % 12 or 12
                said += f" at {h12}" + (f":{minute:02d}" if minute else "")
                return When(said, dt.datetime.combine(day, dt.time(hour, minute)), True, said)
            return When(said, dt.datetime.combine(day, dt.time(hour, 0)), True, said)
        if need_time or rng.random() < 0.6:
            hour = rng.choice([8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19])
            minute = rng.choice([0, 0, 0, 30, 15, 45])
            at = f"at {clock_phrase(rng, hour, minute)}"
            said = f"{phrase} {at}" if rng.random() < 0.7 else f"{at} {phrase}"
            if rng.random() < 0.05:  # a day said, then corrected: the later one counts
                wrong = rng.choice([d for d in WEEKDAYS if d not in phrase])
                said = f"{wrong} {rng.choice(CORRECTIONS)} {said}"
            return When(said, dt.datetime.combine(day, dt.time(hour, minute)), True, phrase)
        return When(phrase, dt.datetime.combine(day, dt.time(0, 0)), False, phrase)

    def clock_alone(self) -> When:
        """A clock time with no day ("at 5pm"): today's if still to come, else tomorrow's
        (grounding's rule). A time already gone today is said with am or pm, so that the
        other half of the clock cannot be meant."""
        rng = self.rng
        hour, minute = rng.choice(range(8, 20)), rng.choice([0, 0, 30, 15, 45])
        moment = dt.datetime.combine(self.now.date(), dt.time(hour, minute))
        gone = moment <= self.now
        if gone:
            moment += dt.timedelta(days=1)
        return When(f"at {clock_phrase(rng, hour, minute, ampm=gone)}", moment, True, "")

    def day_span(self) -> When | None:
        """A day said by how far off it is or what it ends ("in two weeks", "a week from today",
        "by friday", "next week", "this weekend", "by the end of the month"): a day without a time, so
        all-day (grounding's readings; none is drawn where it would name a day already gone)."""
        rng = self.rng
        today = self.now.date()
        weekday = today.weekday()
        kind = rng.choice(["in", "in", "by", "next week", "weekend", "end of week", "end of month"])
        if kind == "in":
            days, said = rng.choice([(2, "in two days"), (3, "in 3 days"), (3, "in three days"), (5, "in five days"),
                                     (7, "in a week"), (7, "in one week"), (14, "in two weeks"), (14, "in 2 weeks"),
                                     (7, "a week from today")])
            day = today + dt.timedelta(days=days)
        elif kind == "by":
            ahead = rng.randint(1, 6)
            day = today + dt.timedelta(days=ahead)
            said = f"by {WEEKDAYS[day.weekday()]}"
        elif kind == "next week":
            day, said = today + dt.timedelta(days=7 - weekday), "next week"
        elif kind == "weekend" and weekday < 5:
            day, said = today + dt.timedelta(days=5 - weekday), rng.choice(["this weekend", "over the weekend"])
        elif kind == "end of week" and weekday < 4:
            day = today + dt.timedelta(days=4 - weekday)
            said = rng.choice(["at the end of the week", "end of the week", "by the end of the week",
                               "by the end of this week", "by end of week"])
        elif kind == "end of month" and (today + dt.timedelta(days=1)).month == today.month:
            day = today.replace(day=calendar.monthrange(today.year, today.month)[1])
            said = rng.choice(["at the end of the month", "end of the month", "by the end of the month",
                               "by the end of this month", "by end of month"])
        else:
            return None
        return When(said, dt.datetime.combine(day, dt.time(0, 0)), False, said)

    # ---- intents -------------------------------------------------------------------------
    def sms(self) -> Intent:
        rng = self.rng
        people = self.people()
        spoken, written = self.message()
        if rng.random() < 0.1:  # a number spelled out: no lookup
            line = rng.randint(1000, 9999)
            number = f"+1415555{line}"
            said = rng.choice([number, f"+1 415 555 {line}", f"415-555-{line}", f"(415) 555-{line}"])
            return Intent("sms_number", rng.choice([f"text {said} {spoken}", f"send a text to {said} saying {spoken}"]),
                          [Step("send_sms", [[number], written])])
        who = self.corrected(self.spoken_list(people))
        # "text X that Y" most of all: the commonest way to ask, and a request of that alone
        # is a text to send, not one to decline.
        text = rng.choice([f"text {who} that {spoken}"] * 4 + [
            f"text {who} {spoken}", f"text {who}: {spoken}", f"text {who} saying {spoken}",
            f"send {who} a message saying {spoken}", f"send a text to {who} saying {spoken}",
            f"send {who} a text: {spoken}", f"message {who} that {spoken}", f"message {who}: {spoken}",
            f"let {who} know {spoken}", f"let {who} know that {spoken}", f"tell {who} {spoken}",
            f"tell {who} that {spoken}", f"shoot {who} a text that {spoken}", f"drop {who} a text that {spoken}",
            f"sms {who} {spoken}", f"ping {who} that {spoken}", f"send a message to {who}: {spoken}",
            f"text {who} real quick that {spoken}"])
        steps = [Step("get_phone_number", [p]) for p in people]
        if len(people) > 1 and rng.random() < 0.2:  # one text each (the conventions' "separately")
            text += rng.choice([" separately", " individually", ", one text each", " in separate texts"])
            steps += [Step("send_sms", [[Ref(i)], written]) for i in range(len(people))]
            return Intent("sms", text, steps)
        steps.append(Step("send_sms", [[Ref(i) for i in range(len(people))], written]))
        return Intent("sms", text, steps)

    def corrected(self, who: str) -> str:
        """Now and then someone else said first, then corrected ("ryan no sorry priya")."""
        if self.rng.random() >= 0.05:
            return who
        said = {c.split()[0].casefold() for c in self.contact.values()}
        wrong = self.rng.choice([f for f in self.first if f.casefold() not in said])
        return f"{wrong} {self.rng.choice(CORRECTIONS)} {who}"

    def files(self) -> list[str]:
        """One file, sometimes two or three."""
        n = self.rng.choices([1, 2, 3], [80, 16, 4])[0]
        out: list[str] = []
        while len(out) < n:
            f = self.file()
            if f not in out:
                out.append(f)
        return out

    def email(self) -> Intent:
        rng = self.rng
        if rng.random() < 0.1:  # an address spelled out: no lookup
            first = rng.choice(FIRST).lower()
            address = f"{first}@{rng.choice(['example.com', 'mail.example.org', 'studio.example.net'])}"
            task = self.task()
            return Intent("email_address", rng.choice([f"email {address} and ask them to {task}",
                                                       f"send an email to {address} asking them to {task}"]),
                          [Step("compose_new_email", [[address], [], task.capitalize(), f"Could you {task}?", []])])
        people = self.people(3)
        cc = self.people(2) if rng.random() < 0.2 else []
        cc = [c for c in cc if c not in people]
        files = self.files() if rng.random() < 0.6 else []
        topic = rng.choice(SUBJECTS)
        who = self.corrected(self.spoken_list(people))
        things = self.spoken_list([f"the {f}" for f in files]) if files else ""
        if files:
            text = rng.choice([f"email {who} {things}", f"send {things} to {who} by email",
                               f"mail {who} {things}", f"email {things} to {who}", f"send {who} {things} by email"])
            subject = files[0][0].upper() + files[0][1:]
            body = f"Here {'is' if len(files) == 1 else 'are'} {things}."
        elif rng.random() < 0.5:
            text = rng.choice([f"email {who} about {topic}", f"send {who} an email about {topic}",
                               f"write an email to {who} about {topic}"])
            subject, body = f"About {topic.removeprefix('the ').removeprefix('our ')}", f"Let's talk about {topic}."
        else:
            task = self.task()
            spoken, written = self.message()
            text, subject, body = rng.choice([
                (f"email {who} and ask them to {task}", task.capitalize(), f"Could you {task}?"),
                # asking for a file is not sending one: nothing to look up or attach
                *[(f"{ask} the {wanted}", wanted[0].upper() + wanted[1:], f"Could you send me the {wanted}?")
                  for wanted in [self.file()]
                  for ask in (f"email {who} asking for", f"ask {who} by email for", f"email {who} to ask for")],
                (f"email {who} that {spoken}", written.rstrip(".!?"), written),
                (f"let {who} know by email that {spoken}", written.rstrip(".!?"), written)])
        separate = len(people) > 1 and not cc and rng.random() < 0.25
        if separate:  # one email per person (the conventions' "separately")
            text += rng.choice([" separately", " in separate emails", ", one email each", " individually"])
        if cc:
            said = self.spoken_list(cc)
            text += rng.choice([f" and cc {said}", f", cc {said}", f" with {said} in cc", f" and copy {said}"])
        steps = [Step("get_email_address", [p]) for p in people + cc]
        attach: list[Any] = []
        for f in files:
            steps.append(Step("open_and_get_file_path", [f]))
            attach.append(Ref(len(steps) - 1))
        if separate:
            for i in range(len(people)):
                steps.append(Step("compose_new_email", [[Ref(i)], [], subject, body, attach]))
            return Intent("email", text, steps)
        to = [Ref(i) for i in range(len(people))]
        ccs = [Ref(i) for i in range(len(people), len(people) + len(cc))]
        steps.append(Step("compose_new_email", [to, ccs, subject, body, attach]))
        return Intent("email", text, steps)

    def reply_or_forward(self) -> Intent:
        rng = self.rng
        if rng.random() < 0.5:
            spoken, written = self.message()
            text = rng.choice([f"reply to this email saying {spoken}", f"answer the email: {spoken}",
                               f"reply that {spoken}"])
            extra = rng.random()
            if extra < 0.2:
                file = self.file()
                return Intent("reply", text + f" and attach the {file}",
                              [Step("open_and_get_file_path", [file]), Step("reply_to_email", [[], written, [Ref(0)]])])
            if extra < 0.3:
                file, p = self.file(), self.person()
                return Intent("reply", text + rng.choice([f", cc {p} and attach the {file}",
                                                          f" and attach the {file} and cc {p}"]),
                              [Step("get_email_address", [p]), Step("open_and_get_file_path", [file]),
                               Step("reply_to_email", [[Ref(0)], written, [Ref(1)]])])
            if extra < 0.45:
                p = self.person()
                return Intent("reply", text + f" and cc {p}",
                              [Step("get_email_address", [p]), Step("reply_to_email", [[Ref(0)], written, []])])
            return Intent("reply", text, [Step("reply_to_email", [[], written, []])])
        people = self.people(2)
        p = self.spoken_list(people)
        text = rng.choice([f"forward this email to {p}", f"forward the email to {p}", f"send this email on to {p}",
                           f"forward this to {p}", f"pass this email on to {p}"])
        cc = [c for c in [self.person()] if c not in people] if rng.random() < 0.2 else []
        if cc:
            text += rng.choice([f" and cc {cc[0]}", f", cc {cc[0]}", f" with {cc[0]} in cc"])
        context = "FYI"
        if rng.random() < 0.25:  # a word to go with it (free text, not scored)
            spoken, written = self.message()
            text += rng.choice([f" and say {spoken}", f" with a note that {spoken}", f" and tell them {spoken}"])
            context = written
        steps = [Step("get_email_address", [x]) for x in people + cc]
        to = [Ref(i) for i in range(len(people))]
        ccs = [Ref(i) for i in range(len(people), len(people) + len(cc))]
        if rng.random() < 0.3:
            file = self.file()
            text += rng.choice([f" with the {file} attached", f" and attach my {file}", f" and attach the {file}"])
            steps.append(Step("open_and_get_file_path", [file]))
            steps.append(Step("forward_email", [to, ccs, context, [Ref(len(steps) - 1)]]))
            return Intent("forward", text, steps)
        steps.append(Step("forward_email", [to, ccs, context, []]))
        return Intent("forward", text, steps)

    def event(self) -> Intent:
        rng = self.rng
        title = rng.choice(EVENTS)
        w = self.when(need_time=True)
        assert w.moment is not None
        minutes = rng.choice([60] * 4 + [30, 45, 90, 120])
        dur = {30: rng.choice([" for 30 minutes", " for half an hour", " for 30 min"]),
               45: rng.choice([" for 45 minutes", " for forty five minutes", " for 45 min"]),
               90: rng.choice([" for an hour and a half", " for 90 minutes"]),
               120: rng.choice([" for two hours", " for 2 hours"]), 60: rng.choice(["", "", " for an hour"])}[minutes]
        guests = self.people(2) if rng.random() < 0.35 else []
        cal = rng.choice(CALENDARS) if rng.random() < 0.25 else ""
        loc = self.place() if rng.random() < 0.2 else ""
        if rng.random() < 0.2:  # a title that names a place or person, which needs no lookup
            title = rng.choice([f"flight to {self.place()}", f"dinner with {self.person()}", f"trip to {self.place()}",
                                f"lunch with {self.person()}", "doctor's appointment", "moving day"])
        if rng.random() < 0.2 and w.day:  # "from 7am to 4pm" instead of a length (when it ends the same day)
            span = rng.choice([60, 90, 120, 180, 240, 480, 540])
            end = w.moment + dt.timedelta(minutes=span)
            begin = clock_phrase(rng, w.moment.hour, w.moment.minute)
            if end.date() == w.moment.date():
                finish = clock_phrase(rng, end.hour, end.minute)
                minutes, dur = span, ""
                w = When(f"{w.day} from {begin} to {finish}", w.moment, True, w.day)
        if cal and not guests and rng.random() < 0.3:
            text, cal_said = f"add {rng.choice(['the ', 'a ', ''])}{title} to my {cal} calendar {w.phrase}{dur}", True
        else:
            text, cal_said = "", False
        text = text or rng.choice([f"schedule a {title} {w.phrase}{dur}", f"add {title} to my calendar {w.phrase}{dur}",
                           f"set up a {title} {w.phrase}{dur}", f"block my calendar {w.phrase}{dur} for {title}",
                           f"put a {title} on the calendar {w.phrase}{dur}", f"book a {title} {w.phrase}{dur}"])
        if guests and rng.random() < 0.25:  # "a meeting with X" invites X (conventions); its title says so
            kind = rng.choice(["meeting", "call", "catch-up", "sync", "check-in", "coffee"])
            who = self.spoken_list(guests)
            title = f"{kind} with {who}"
            text = rng.choice([f"set up a {kind} with {who} {w.phrase}{dur}",
                               f"schedule a {kind} with {who} {w.phrase}{dur}",
                               f"book a {kind} with {who} {w.phrase}{dur}", f"add a {kind} with {who} {w.phrase}{dur}",
                               f"I have a {kind} with {who} {w.phrase}{dur}"])
        elif guests and rng.random() < 0.4:
            text = f"invite {self.spoken_list(guests)} to a {title} {w.phrase}{dur}"
        elif guests:
            text += f" with {self.spoken_list(guests)}"
        if loc:
            text += f" at {loc}"
        if cal and not cal_said:
            text += f" on my {cal} calendar"
        steps = [Step("get_email_address", [g]) for g in guests]
        end = w.moment + dt.timedelta(minutes=minutes)
        steps.append(Step("create_calendar_event", [title[0].upper() + title[1:], w.moment.strftime(DATETIME_FORMAT),
                                                    end.strftime(DATETIME_FORMAT), loc,
                                                    [Ref(i) for i in range(len(guests))], "", cal]))
        return Intent("event", text, steps)

    def reminder(self) -> Intent:
        rng = self.rng
        if rng.random() < 0.2:
            return self.list_items()
        task = self.task()
        w = self.when(allow_none=True, relative=True)
        prio_word, prio = rng.choice([("", 0)] * 6 + [("urgent", 1), ("important", 1), ("low priority", 9),
                                                       ("medium priority", 5)])
        lst = rng.choice(LISTS) if rng.random() < 0.2 else ""
        lead = rng.choice(["remind me to", "set a reminder to", "don't let me forget to", "add a reminder to"])
        text = f"{lead} {task}" + (f" {w.phrase}" if w.phrase else "")
        if w.phrase and lead in ("remind me to", "set a reminder to") and rng.random() < 0.35:
            lead = lead.removesuffix(" to")  # the time first: "remind me tomorrow at 9 to call the bank"
            text = f"{lead} {w.phrase} to {task}"
        if prio_word:
            text = text.replace(lead, f"{lead}", 1) + f", it's {prio_word}"
        if lst:
            text += f" on my {lst} list"
        if w.moment is None:
            due, all_day = "", False
        elif w.has_time:
            due, all_day = w.moment.strftime(DATETIME_FORMAT), False
        else:
            due, all_day = w.moment.strftime(DATETIME_FORMAT), True
        name = task[0].upper() + task[1:].replace("my ", "")
        return Intent("reminder", text, [Step("create_reminder", [name, due, "", lst, prio, all_day])])

    def list_items(self) -> Intent:
        """Things put on a reminder list by its name ("put bread and apples on the groceries
        list"): one reminder per thing, on that list. "my packing list", a note's name, is a
        note to append to (note()); grounding's block tells the two apart."""
        rng = self.rng
        lst = rng.choice(LISTS)
        pool = SHOPPING if lst == "Groceries" else TASKS
        things = rng.sample(pool, rng.choices([1, 2, 3], [55, 35, 10])[0])
        named = rng.choice([lst, lst.lower()])
        where = rng.choice([f"my {named} list", f"the {named} list"])
        said = self.spoken_list(things)
        text = rng.choice([f"add {said} to {where}", f"put {said} on {where}", f"stick {said} on {where}",
                           f"throw {said} on {where}", f"add {said} to {where} please"]
                          + ([f"{said}, add that to {where}"] if len(things) == 1 else []))
        w = self.when() if rng.random() < 0.2 else When("", None, False)
        if w.phrase:
            text += f" {w.phrase}" if w.phrase.startswith(("on ", "at ", "in ", "by ", "over ")) else f" for {w.phrase}"
        due = w.moment.strftime(DATETIME_FORMAT) if w.moment else ""
        all_day = bool(w.moment) and not w.has_time
        steps = [Step("create_reminder", [t[0].upper() + t[1:].replace("my ", ""), due, "", lst, 0, all_day])
                 for t in things]
        return Intent("reminder_list", text, steps)

    def note_ref(self, name: str) -> str:
        """How a note is named in speech: "my X note", "the X note", or, when its name says
        what it is ("Reading list", "Sprint notes"), just "my X"."""
        listy = name.casefold().endswith(("list", "notes", "ideas", "log", "checklist", "plan", "journal"))
        lower = name if self.rng.random() < 0.5 else name.lower()
        forms = [f"my {lower} note", f"the {lower} note"] + ([f"my {lower}", f"the {lower}"] * 2 if listy else [])
        return self.rng.choice(forms)

    def note(self) -> Intent:
        rng = self.rng
        name = self.note_name()
        folder = rng.choice(FOLDERS) if rng.random() < 0.3 else ""
        infolder = f" in my {folder} folder" if folder else ""
        where = f"the {folder} folder" if folder else "Notes"
        kind = rng.random()
        item = rng.choice(NOTE_ITEMS + TASKS)
        if kind < 0.35:
            return Intent("note_create", rng.choice([f"make a note called {name}{infolder} with {item}",
                                                     f"create a note {name}{infolder}: {item}",
                                                     f"start a new note named {name}{infolder} saying {item}",
                                                     f"new note {name}{infolder}: {item}",
                                                     f"make a note in {where} called {name} with {item}",
                                                     f"make a note called {name}{infolder} saying {item}",
                                                     f"new note in {where} called {name} that says {item}",
                                                     f"create a {name} note{infolder} that says {item}",
                                                     f"save {item} in a new note called {name}{infolder}",
                                                     f"write down {item} in a new note {name}{infolder}"]),
                          [Step("create_note", [name, item, folder])])
        ref = self.note_ref(name)
        if kind < 0.7:
            return Intent("note_append", rng.choice([f"add {item} to {ref}{infolder}",
                                                     f"append {item} to {ref}{infolder}",
                                                     f"put {item} in {ref}{infolder}",
                                                     f"put {item} on {ref}{infolder}",
                                                     f"add to {ref}{infolder}: {item}",
                                                     f"update {ref}{infolder} with {item}",
                                                     f"jot down {item} in {name}{infolder}",
                                                     f"{item}, add that to {ref}{infolder}"]),
                          [Step("append_note_content", [name, item, folder])])
        chain = rng.random()
        folder = folder if chain >= 0.5 else ""  # the texts and emails below do not say it
        steps = [Step("open_note", [name, folder])]
        p = self.person()
        if chain < 0.25:
            text = rng.choice([f"text {p} what's on {ref}", f"send {ref} to {p} by text", f"text {ref} to {p}",
                               f"text {p} {ref}"])
            steps += [Step("get_phone_number", [p]), Step("send_sms", [[Ref(1)], Ref(0, "{}")])]
            return Intent("note_open", text, steps)
        if chain < 0.5:
            text = rng.choice([f"email {ref} to {p}", f"email {p} what's in {ref}", f"send {p} {ref} by email",
                               f"email {p} {ref}"])
            steps += [Step("get_email_address", [p]), Step("compose_new_email", [[Ref(1)], [], name, Ref(0, "{}"), []])]
            return Intent("note_open", text, steps)
        return Intent("note_open", rng.choice([f"open {ref}{infolder}", f"show me {ref}{infolder}",
                                               f"pull up {ref}{infolder}", f"what's on {ref}{infolder}",
                                               f"what's in {ref}{infolder}", f"read me {ref}{infolder}"]), steps)

    def maps(self) -> Intent:
        rng = self.rng
        place = self.place()
        if rng.random() < 0.15:  # "the nearest pharmacy": Maps finds the nearest by itself
            place = rng.choice(["the nearest ", "the closest ", "a "]) + self.place_name(rng.choice(SHOPS))
        name = self.place_name(place)
        if rng.random() < 0.08:  # a map link sent to someone
            p = self.person()
            return Intent("map", rng.choice([f"text {p} a map link for {place}", f"send {p} a map of {place} by text",
                                             f"find {place} on the map and text {p} the link",
                                             f"text {p} where {place} is"]),
                          [Step("maps_open_location", [name]), Step("get_phone_number", [p]),
                           Step("send_sms", [[Ref(1)], Ref(0, "{}")])])
        if rng.random() < 0.08:  # shown on the map and the way there: two calls, neither waits
            mode_word, mode = rng.choice([("", "d"), (" walking", "w"), (" by transit", "r"), (" driving", "d")])
            return Intent("map", rng.choice([f"show me {place} on the map and how to get there{mode_word}",
                                             f"find {place} on the map and give me directions there{mode_word}",
                                             f"where is {place}, and how do I get there{mode_word}"]),
                          [Step("maps_open_location", [name]), Step("maps_show_directions", ["", name, mode])])
        if rng.random() < 0.4:
            return Intent("map", rng.choice([f"show me {place} on the map", f"where is {place}", f"where's {place}",
                                             f"show me where {place} is", f"find {place}",
                                             f"open {place} in maps", f"find {place} on a map"]),
                          [Step("maps_open_location", [name])])
        mode_word, mode = rng.choice([("", "d"), ("driving", "d"), ("walking", "w"), ("by transit", "r"),
                                      ("on foot", "w"), ("by train", "r"), ("by bus", "r"), ("by car", "d")])
        start = self.place() if rng.random() < 0.3 else ""
        start = "" if start == place else start
        how = f" {mode_word}" if mode_word else ""
        if start:  # the start said first or last, the way of travel anywhere
            text = rng.choice([f"directions to {place} from {start}{how}", f"how do I get to {place} from {start}{how}",
                               f"directions from {start} to {place}{how}", f"how do I get from {start} to {place}{how}",
                               f"route from {start} to {place}{how}", f"directions to {place}{how} from {start}",
                               f"I need to get from {start} to {place}{how}"])
        else:
            text = rng.choice([f"directions to {place}{how}", f"how do I get to {place}{how}",
                               f"show me the way to {place}{how}", f"navigate to {place}{how}",
                               f"take me to {place}{how}", f"get me directions to {place}{how}"])
            if rng.random() < 0.15:  # where the user is now is Maps' own start: ""
                text += rng.choice([" from here", " from where I am", " from my current location", " from my location"])
            elif not mode_word and rng.random() < 0.15:  # the way of travel as the verb
                mode_word, mode = rng.choice([("walk", "w"), ("drive", "d")])
                text = rng.choice([f"{mode_word} me to {place}", f"I want to {mode_word} to {place}, show me the way"])
        if mode_word and "directions" in text and rng.random() < 0.3:  # "walking directions to ..."
            lead = {"by transit": "transit", "on foot": "walking", "by train": "transit", "by bus": "transit",
                    "by car": "driving"}.get(mode_word, mode_word)
            text = text.replace(how, "").replace("directions", f"{lead} directions", 1)
        steps = [Step("maps_show_directions", [self.place_name(start), name, mode])]
        if rng.random() < 0.15:  # the directions' link sent on
            p = self.person()
            text += rng.choice([f" and text the link to {p}", f" and send them to {p} by text"])
            steps += [Step("get_phone_number", [p]), Step("send_sms", [[Ref(1)], Ref(0, "{}")])]
        return Intent("directions", text, steps)

    def zoom(self) -> Intent:
        rng = self.rng
        topic = rng.choice(EVENTS)
        w = self.when(need_time=True)
        assert w.moment is not None
        start = w.moment.strftime(DATETIME_FORMAT)
        guests = self.people(2) if rng.random() < 0.6 else []
        with_ = f" with {self.spoken_list(guests)}" if guests else ""
        minutes, before, after = rng.choice([(60, "", "")] * 5 + [
            (30, "30 minute ", ""), (45, "45-minute ", ""), (30, "", " for half an hour"), (90, "", " for 90 minutes"),
            (45, "", " for 45 minutes"), (15, "quick 15 minute ", ""), (60, "", " for an hour"),
            (120, "", " for two hours")])
        steps = [Step("get_email_address", [g]) for g in guests]
        steps.append(Step("get_zoom_meeting_link", [topic[0].upper() + topic[1:], start, minutes,
                                                    [Ref(i) for i in range(len(guests))]]))
        zoom = len(steps) - 1
        if guests and rng.random() < 0.25:  # no topic said: the title says who it is with, never its length
            steps[-1].args[0] = f"Zoom meeting with {self.spoken_list(guests)}"
            text = rng.choice([f"set up a {before}zoom{with_} {w.phrase}{after}",
                               f"schedule a {before}zoom call{with_} {w.phrase}{after}",
                               f"make a {before}zoom meeting{with_} {w.phrase}{after}",
                               f"zoom{with_} {w.phrase}{after}, send the invite"])
        else:
            text = ""
        text = text or rng.choice([f"set up a {before}zoom {topic}{with_} {w.phrase}{after}",
                           f"create a {before}zoom meeting for the {topic}{with_} {w.phrase}{after}",
                           f"make a zoom link for a {before}{topic}{with_} {w.phrase}{after}",
                           f"schedule a {before}zoom call{with_} {w.phrase}{after} about the {topic}"])
        if rng.random() < 0.4:
            cal = rng.choice(CALENDARS) if rng.random() < 0.3 else ""
            text += rng.choice([f" and put it on my {cal} calendar", f" and add it to the {cal} calendar"] if cal else
                               [" and put it on my calendar", " and add it to the calendar"])
            end = (w.moment + dt.timedelta(minutes=minutes)).strftime(DATETIME_FORMAT)
            steps.append(Step("create_calendar_event", [steps[zoom].args[0], start, end, Ref(zoom), [], "", cal]))
        elif not guests and rng.random() < 0.35:  # the link only sent on: no Zoom invitees (conventions)
            sent = self.people(2)
            who = self.spoken_list(sent)
            by_text = rng.random() < 0.6
            text += rng.choice([f" and text the link to {who}", f" and text {who} the link",
                                f" and send {who} the link by text"] if by_text else
                               [f" and email the link to {who}", f" and email {who} the link"])
            steps += [Step("get_phone_number" if by_text else "get_email_address", [p]) for p in sent]
            to, link = [Ref(zoom + 1 + i) for i in range(len(sent))], Ref(zoom, "Here is the Zoom link: {}")
            steps.append(Step("send_sms", [to, link]) if by_text else
                         Step("compose_new_email", [to, [], "Zoom link", link, []]))
        elif guests and rng.random() < 0.3:
            p = guests[0]
            text += rng.choice([f" and email {p} the link", f" and send {p} the link by email"])
            steps.append(Step("compose_new_email", [[Ref(0)], [], "Zoom link", Ref(zoom, "Here is the Zoom link: {}"),
                                                    []]))
        elif guests and rng.random() < 0.5:
            p = guests[0]
            text += f" and text {p} the link"
            steps.append(Step("get_phone_number", [p]))
            steps.append(Step("send_sms", [[Ref(len(steps) - 1)], Ref(zoom, "Here is the Zoom link: {}")]))
        return Intent("zoom", text, steps)

    def pdf(self) -> Intent:
        rng = self.rng
        doc = rng.choice(PDFS) if rng.random() < 0.5 else self.file()
        if rng.random() < 0.15:  # the file sent to someone, and its summary kept in a note
            p = self.person()
            name = self.note_name() if rng.random() < 0.7 else ""
            called = f" called {name}" if name else ""
            text = rng.choice([f"email the {doc} to {p} and keep its summary in a new note{called}",
                               f"email {p} the {doc} and save a summary of it as a note{called}",
                               f"mail {p} the {doc}, and write its gist into a new note{called}",
                               f"send the {doc} to {p} and put a summary of it in a new note{called}",
                               f"send {p} the {doc} and make a new note{called} with a summary of it"])
            title = name or f"{doc[0].upper() + doc[1:]} summary"
            return Intent("summary", text, [
                Step("get_email_address", [p]), Step("open_and_get_file_path", [doc]),
                Step("compose_new_email", [[Ref(0)], [], doc[0].upper() + doc[1:], f"Here is the {doc}.", [Ref(1)]]),
                Step("summarize_pdf", [Ref(1)]), Step("create_note", [title, Ref(3, "{}"), ""])])
        text = rng.choice([f"summarize the {doc}", f"give me a summary of the {doc} pdf",
                           f"what does the {doc} say", f"tl;dr the {doc}", f"sum up the {doc}"])
        steps = [Step("open_and_get_file_path", [doc]), Step("summarize_pdf", [Ref(0)])]
        then = rng.random()
        if then < 0.2:
            p = self.person()
            text += rng.choice([f" and email the summary to {p}", f" and send {p} the summary",
                                f" and email it to {p}"])
            steps += [Step("get_email_address", [p]),
                      Step("compose_new_email", [[Ref(2)], [], f"Summary of the {doc}", Ref(1, "{}"), []])]
        elif then < 0.35:
            p = self.person()
            text += rng.choice([f" and text the summary to {p}", f" and text it to {p}",
                                f" and send {p} the gist by text"])
            steps += [Step("get_phone_number", [p]), Step("send_sms", [[Ref(2)], Ref(1, "{}")])]
        elif then < 0.55:
            name = self.note_name()
            folder = rng.choice(FOLDERS) if rng.random() < 0.3 else ""
            infolder = f" in my {folder} folder" if folder else ""
            text = rng.choice([text + rng.choice([f" and save it in a note called {name}{infolder}",
                                                  f" and put the summary in a new note {name}{infolder}"]),
                               f"put a summary of the {doc} in a new note called {name}{infolder}"])
            steps.append(Step("create_note", [name, Ref(1, "{}"), folder]))
        elif then < 0.65:
            name = self.note_name()
            text += f" and add the summary to {self.note_ref(name)}"
            steps.append(Step("append_note_content", [name, Ref(1, "{}"), ""]))
        return Intent("summary", text, steps)

    def open_file(self) -> Intent:
        doc = self.file()
        return Intent("open_file", self.rng.choice([f"open the {doc}", f"find my {doc}", f"pull up the {doc}",
                                                                 f"open my {doc}"]),
                      [Step("open_and_get_file_path", [doc])])

    def lookup(self) -> Intent:
        p = self.person()
        if self.rng.random() < 0.5:
            return Intent("phone", self.rng.choice([f"what's {p}'s number", f"look up {p}'s phone number",
                                                    f"get me the phone number for {p}"]),
                          [Step("get_phone_number", [p])])
        return Intent("address", self.rng.choice([f"what's {p}'s email", f"look up the email address of {p}",
                                                  f"find {p}'s email address"]), [Step("get_email_address", [p])])

    def decline(self) -> Intent:
        rng = self.rng
        hour = rng.choice([5, 6, 7, 8, 9, 10, 14, 15, 16, 17])
        slots = {"p": self.person(), "f": self.file(), "task": self.task(), "n": rng.choice([5, 10, 15, 20, 25, 45]),
                 "t": clock_phrase(rng, hour, rng.choice([0, 0, 30]), words=False),
                 "day": rng.choice(["today", "tomorrow", "this weekend", "on friday", "next week", "tonight"]),
                 "event": rng.choice(EVENTS), "note": self.note_name(), "place": self.place(),
                 "country": rng.choice(COUNTRIES), "city": rng.choice(CITIES), "landmark": rng.choice(PLACES)}
        templates = PLACE_QUESTIONS if rng.random() < 0.25 else DECLINES
        return Intent("decline", rng.choice(templates).format(**slots), [])

    INTENT_WEIGHTS: tuple[tuple[str, int], ...] = (
        ("sms", 18), ("email", 14), ("reply_or_forward", 5), ("event", 12), ("reminder", 12), ("note", 8),
        ("maps", 8), ("zoom", 8), ("pdf", 5), ("open_file", 4), ("lookup", 5))

    def intent(self) -> Intent:
        names, weights = zip(*self.INTENT_WEIGHTS, strict=True)
        fn: Callable[[], Intent] = getattr(self, self.rng.choices(names, weights)[0])
        return fn()

    # ---- styles --------------------------------------------------------------------------
    def phrase(self, parts: list[str]) -> tuple[str, str]:
        rng = self.rng
        style = rng.choice(["plain", "plain", "polite", "spoken", "spoken", "indirect", "lowercase"])
        question = re.match(r"(what|what's|who|how|when|where|where's|is|did|any)\b", parts[0])
        if question and style == "indirect":  # "I'd like you to what's the capital of Peru" is no one's English
            style = "plain"
        joiners = [" and ", " and also ", ", then ", ". Also ", ", and ", " and then ", ". ", " plus ",
                   " and after that ", ", also "]
        text = parts[0]
        for p in parts[1:]:
            text += rng.choice(joiners) + p
        if style == "polite":
            text = rng.choice(["hey Pippin, ", "Pippin, "] if question else
                              ["could you ", "can you ", "please ", "would you mind, ", "hey Pippin, "]) + text
            text += rng.choice(["", "", " please", ", thanks", " thank you"])
        elif style == "spoken":
            text = self.as_transcribed(text)
        elif style == "indirect":
            text = rng.choice(["I need you to ", "I want to ", "I'd like you to ", "it would be great if you could ",
                               "I have to ", "go ahead and "]) + text
        elif style == "lowercase":  # typed in a hurry
            text = text.lower()
        if style in ("plain", "polite", "indirect") and rng.random() < 0.5:
            text = text[0].upper() + text[1:]
            text = re.sub(r"\bi(?=\b|'m\b|'ll\b|'d\b|'ve\b)", "I", text)  # typed with care: "I'm late"
        return text.strip(), style

    def as_transcribed(self, text: str) -> str:
        """Speech as a recognizer writes it: lowercase, most punctuation gone, fillers, and now
        and then a small word dropped or a homophone (never beside a number, which grounding reads)."""
        rng = self.rng
        words = text.lower().split(" ")
        for _ in range(rng.randint(0, 2)):
            at = rng.randrange(0, max(1, len(words)))
            words.insert(at, rng.choice(FILLERS) + ("," if rng.random() < 0.3 else ""))

        def near_number(i: int) -> bool:
            around = words[max(0, i - 1): i + 2]
            return any(any(ch.isdigit() for ch in w) or w.strip(",.") in NUMBER_WORDS for w in around)

        if rng.random() < 0.3:
            spots = [i for i, w in enumerate(words) if w in SMALL_WORDS and not near_number(i)]
            if spots:
                words.pop(rng.choice(spots))
        if rng.random() < 0.2:
            spots = [i for i, w in enumerate(words) if w in HOMOPHONES and not near_number(i)]
            if spots:
                i = rng.choice(spots)
                words[i] = HOMOPHONES[words[i]]
        out = " ".join(words)
        if rng.random() < 0.7:  # no punctuation, but keep clock times ("3:30") and emails
            out = re.sub(r"[,!?;]|\.(?=\s|$)|:(?!\d)", "", out)
        return " ".join(out.split())

    # ---- samples -------------------------------------------------------------------------
    def sample(self) -> Sample:
        rng = self.rng
        self.mentioned = {"contacts": [], "notes": []}
        self.contact = {}
        self.now = dt.datetime(2027, 1, 1) + dt.timedelta(days=rng.randint(0, 700), hours=rng.randint(7, 20),
                                                           minutes=rng.choice([0, 15, 30, 45]))
        r = rng.random()
        if r < 0.09:
            intents = [self.decline()]
        elif r < 0.13:  # a text alone, the commonest request of all
            intents = [self.sms()]
        else:
            n = rng.choices([1, 2, 3, 4, 5], [40, 32, 17, 8, 3])[0]
            intents = [self.intent() for _ in range(n)]
        text, style = self.phrase([i.text for i in intents])
        plan = self.render(intents, self.contact)
        tools = sorted({s.tool for i in intents for s in i.steps})
        parts = [(i.text, sorted({s.tool for s in i.steps})) for i in intents]
        # The Mac this request is asked on, for grounding: the kinds' names the generator draws
        # from, and the people and notes it mentioned (as their contacts and notes).
        firsts = {c.split()[0].casefold() for c in self.mentioned["contacts"]}
        others = [f"{f} {rng.choice(self.last)}" for f in rng.sample(self.first, 4) if f.casefold() not in firsts]
        inventory = {"calendars": CALENDARS, "reminder_lists": LISTS, "note_folders": FOLDERS,
                     "notes": sorted(set(self.mentioned["notes"])),
                     "contacts": sorted(set(self.mentioned["contacts"]) | set(others[:3]))}
        return Sample(text, plan, self.now.strftime(DATETIME_FORMAT), tools, [i.name for i in intents], style, parts,
                      inventory)

    @staticmethod
    def render(intents: list[Intent], contact: dict[str, str] | None = None) -> str:
        """The plan: each intent's steps in order, people looked up by their contact's name,
        and a lookup already made (the same tool and name) reused rather than made again."""
        from shared.plan import Call

        contact = contact or {}
        calls: list[Call] = []
        made: dict[tuple[str, str], int] = {}
        for intent in intents:
            numbers: list[int] = []  # the call number of each of the intent's steps

            def resolve(v: Any, numbers: list[int] = numbers) -> Any:
                if isinstance(v, Ref):
                    ref = f"${numbers[v.step]}"
                    return v.inside.format(ref) if v.inside else ref
                if isinstance(v, list):
                    return [resolve(x) for x in v]
                return v

            for step in intent.steps:
                args = tuple(resolve(a) for a in step.args)
                if step.tool in ("get_phone_number", "get_email_address"):
                    args = (contact.get(args[0], args[0]),)
                key = (step.tool, str(args[0])) if step.tool in LOOKUPS else None
                if key and key in made:
                    numbers.append(made[key])
                    continue
                calls.append(Call(len(calls) + 1, step.tool, args))
                numbers.append(len(calls))
                if key:
                    made[key] = len(calls)
        calls.append(Call(len(calls) + 1, "join", ()))
        return render_plan(calls)


LOOKUPS = ("get_phone_number", "get_email_address", "open_and_get_file_path")


def generate(n: int, seed: int = 0, exclude: Iterable[str] = ()) -> list[Sample]:
    """n distinct samples; queries in `exclude` (the eval's) are never produced."""
    gen = Generator(seed)
    banned = {normalize(q) for q in exclude}
    seen: set[str] = set()
    out: list[Sample] = []
    attempts = 0
    while len(out) < n:
        attempts += 1
        if attempts > n * 20:
            raise RuntimeError(f"could only make {len(out)} distinct samples of {n}")
        s = gen.sample()
        key = normalize(s.query)
        if key in seen or key in banned:
            continue
        report = validate_plan(s.plan)
        if not report.ok:
            raise AssertionError(f"generated an invalid plan for {s.query!r}: {report.errors}\n{s.plan}")
        seen.add(key)
        out.append(s)
    return out


def eval_queries() -> list[str]:
    """The queries of the evaluation sets (dev and our own fresh set), which the data must
    never contain."""
    from shared import paths

    queries: list[str] = []
    for cases in (paths.dev_cases(), paths.fresh_cases()):
        if cases.exists():
            lines = cases.read_text(encoding="utf-8").splitlines()
            queries += [json.loads(line)["query"] for line in lines if line.strip()]
    return queries


def normalize(text: str) -> str:
    return " ".join("".join(ch for ch in text.casefold() if ch.isalnum() or ch.isspace()).split())


def overlap(samples: Iterable[Sample], eval_queries: Iterable[str]) -> dict[str, Any]:
    """How much of the eval leaks into the data: exact (normalized) query matches, and eval
    queries sharing an 8-word run with any sample."""
    evals = [normalize(q) for q in eval_queries]
    data = [normalize(s.query) for s in samples]
    data_set = set(data)
    grams: set[tuple[str, ...]] = set()
    for d in data:
        w = d.split()
        grams.update(tuple(w[i: i + 8]) for i in range(len(w) - 7))
    shared = [q for q in evals if any(tuple(q.split()[i: i + 8]) in grams for i in range(len(q.split()) - 7))]
    return {"eval_queries": len(evals), "exact_matches": sum(q in data_set for q in evals),
            "eval_queries_sharing_8_words": len(shared)}


def write_jsonl(samples: Iterable[Sample], path: Path, prompt: Callable[[dict[str, Any]], str] | None = None) -> None:
    """One sample a line; with `prompt`, each also carries the prompt it makes (pippin train
    uses it as it is). A path ending in .gz is gzipped."""
    import gzip

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = (s.to_json() for s in samples)
    text = "".join(json.dumps({**r, "prompt": prompt(r)} if prompt else r, ensure_ascii=False) + "\n" for r in rows)
    path.write_bytes(gzip.compress(text.encode()) if path.suffix == ".gz" else text.encode())


def grounding_misses(sample: Sample) -> list[str]:
    """The reference plan's arguments that grounding, run on the sample's request and Mac,
    would not let the grammar write (empty: grounding and the generator agree). Samples
    with misses stay in the data (the model must live with grounding's misses); their share
    is reported by `pippin gen-data`."""
    from services.planner.grounding import Inventory, ground
    from shared.plan import parse_plan

    inventory = Inventory(**{k: tuple(v) for k, v in sample.inventory.items()})
    grounding = ground(sample.query, sample.now, inventory)
    offers = grounding.offers()
    found_people = {name for _, name in grounding.people}
    misses: list[str] = []

    def check(what: str, value: Any, allowed: Iterable[Any] | None) -> None:
        if allowed is not None and value not in allowed:
            misses.append(f"{what} {value!r}")

    for call in parse_plan(sample.plan):
        a = call.args
        if call.tool == "create_calendar_event":
            check("start", a[1], offers.starts)
            if offers.starts is not None and a[1] in offers.starts:
                check("end", a[2], offers.starts[a[1]])
            check("calendar", a[6], offers.calendars)
        elif call.tool == "get_zoom_meeting_link":
            check("start", a[1], offers.starts)
            check("duration", a[2], offers.durations)
        elif call.tool == "create_reminder":
            check("due", (a[1], a[5]), offers.reminder_dues)
            check("list", a[3], offers.reminder_lists)
            check("priority", a[4], offers.priorities)
        elif call.tool in ("get_phone_number", "get_email_address") and a[0] in inventory.contacts:
            check("person", a[0], found_people)
        elif call.tool in ("create_note", "open_note", "append_note_content"):
            check("folder", a[-1], offers.note_folders)
    return misses


def plan_shape(plan: str) -> str:
    """The plan with its values taken out: tools and which results flow where."""
    from shared.plan import parse_plan, refs_in

    return " ".join(f"{c.tool}({','.join(str(r) for r in refs_in(c.args))})" for c in parse_plan(plan))


def report(samples: list[Sample], eval_queries: Iterable[str]) -> dict[str, Any]:
    """What a generated set holds: sizes of requests, styles, distinct plan shapes, how often
    grounding disagrees with the reference (and on what), and the overlap with the eval sets."""
    from collections import Counter

    each = [grounding_misses(s) for s in samples]
    misses = Counter(m.split()[0] for found in each for m in found)
    with_misses = sum(1 for found in each if found)
    return {"samples": len(samples),
            "intents_per_request": dict(sorted(Counter(len(s.intents) for s in samples).items())),
            "declines": sum(1 for s in samples if s.intents == ["decline"]),
            "styles": dict(Counter(s.style for s in samples).most_common()),
            "plan_shapes": len({plan_shape(s.plan) for s in samples}),
            "grounding_disagrees": {"samples": with_misses, "share": round(with_misses / max(1, len(samples)), 4),
                                    "fields": dict(misses.most_common())},
            "overlap_with_eval": overlap(samples, eval_queries)}
