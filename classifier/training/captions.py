"""Text to draw: meme captions (made up, from template examples, from Memotion's OCR) and plain prose.

Captions and the prose on hard negatives share one vocabulary on purpose: the model should learn
where and how text sits in an image, not that certain words mean "meme".
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

ACTIVITIES = (
    "study for the exam",
    "fix one bug",
    "say you'll go to bed early",
    "open the fridge at 3am",
    "check the group chat",
    "try to eat healthy",
    "forget your password again",
    "reply all by mistake",
    "finish the project the night before",
    "start a new diet on monday",
    "find the last slice of pizza",
    "hear your name in a meeting",
    "update windows",
    "wake up before the alarm",
    "clean your room",
    "see the electricity bill",
    "push to production on friday",
    "read the terms and conditions",
    "pay rent",
    "call customer support",
    "lose the remote",
    "go to the gym once",
    "buy more plants",
    "water the plants",
    "cancel plans",
    "order the same food again",
    "run the tests",
    "parallel park",
    "walk into the wrong meeting",
    "step on a lego",
    "drink coffee",
    "print a document",
    "watch one more episode",
    "make small talk",
    "answer the phone",
    "see a spider",
    "install drivers",
    "fill in the form",
    "wait for the bus",
    "merge the branch",
    "forget what you came for",
)
EVENTS = (
    "the wifi goes down",
    "mom calls your full name",
    "the teacher says pop quiz",
    "it's monday again",
    "the code works and you don't know why",
    "your card gets declined",
    "the cat knocks over the vase",
    "someone spoils the ending",
    "the pizza arrives",
    "the boss says quick call",
    "the battery hits 1%",
    "the weekend is over",
    "it starts raining",
    "the printer jams",
    "your crush says hi",
    "the meeting could have been an email",
    "the deadline moves up",
    "the fire alarm goes off",
    "your phone falls on your face",
    "the group project is due",
    "you hear the ice cream truck",
    "the tests pass on the first try",
    "your package is delayed",
    "someone microwaves fish",
)
PEOPLE = (
    "my cat",
    "my dog",
    "the teacher",
    "my boss",
    "my mom",
    "programmers",
    "engineers",
    "students",
    "my brain",
    "the landlord",
    "gamers",
    "my neighbour",
    "the intern",
    "everyone at work",
    "my wallet",
    "the manager",
    "my friends",
    "my code",
    "the printer",
    "grandma",
    "my sleep schedule",
    "the team",
)
REACTIONS = (
    "SURPRISED",
    "NOT AGAIN",
    "WORTH IT",
    "EVERY TIME",
    "I REGRET NOTHING",
    "THIS IS FINE",
    "NAILED IT",
    "MISSION FAILED",
    "IT'S A TRAP",
    "SUCH WOW",
    "CHALLENGE ACCEPTED",
    "NOPE",
    "TOTALLY WORTH IT",
    "OUTSTANDING MOVE",
    "I'M FINE",
    "PERFECTLY BALANCED",
    "WHY",
    "SEND HELP",
)
NOUNS = (
    "report",
    "budget",
    "meeting",
    "project",
    "schedule",
    "garden",
    "river",
    "museum",
    "market",
    "festival",
    "library",
    "concert",
    "update",
    "network",
    "system",
    "sales",
    "weather",
    "energy",
    "coffee",
    "pizza",
    "music",
    "summer",
    "winter",
    "city",
    "team",
    "school",
    "office",
    "travel",
    "health",
    "data",
    "results",
    "growth",
    "service",
    "customer",
    "product",
    "design",
    "review",
)
WORDS = (
    "the", "of", "and", "to", "in", "is", "for", "on", "with", "as", "by", "at", "from", "this",
    "that", "are", "was", "be", "it", "an", "or", "all", "new", "more", "time", "year", "people",
    "first", "each", "which", "their", "will", "other", "about", "many", "then", "them", "these",
    "some", "would", "make", "like", "into", "has", "two", "more", "go", "see", "number", "way",
    "could", "than", "been", "call", "who", "its", "now", "find", "long", "down", "day", "did",
    "get", "come", "made", "may", "part", "over", "after", "under", "before", "total", "daily",
    *NOUNS,
)  # fmt: skip
MACRO_PAIRS = (
    ("WHEN YOU {a}", "AND {e}"),
    ("ONE DOES NOT SIMPLY", "{a}"),
    ("I DON'T ALWAYS {a}", "BUT WHEN I DO, I {a}"),
    ("WHAT IF I TOLD YOU", "YOU CAN {a}"),
    ("{p}", "{r}"),
    ("Y U NO", "{a}"),
    ("SO YOU'RE TELLING ME", "{e}"),
    ("THAT MOMENT WHEN", "{e}"),
    ("{p} BE LIKE", "{r}"),
    ("ME: I WILL {a}", "ALSO ME: {r}"),
    ("NOBODY:", "{p}: {a}"),
    ("IF {e}", "{r}"),
    ("BRACE YOURSELVES", "{n} IS COMING"),
    ("{r}", "{r}"),
    ("NOT SURE IF {e}", "OR {e}"),
    ("YOU HAD ONE JOB", ""),
    ("", "{e}"),
    ("{a}?", "{r}"),
)
BAR_CAPTIONS = (
    "me trying to {a} after {e}",
    "when you {a} and {e}",
    "POV: you {a}",
    "nobody:\nme at 3am: {a}",
    "{p} when {e}",
    "{p} after {e}",
    "me explaining to {p} why I need to {a}",
    "when {e} lol",
    "{p}: you should {a}\nme:",
    "the moment {e}",
    "Me every time {e}",
    "when {p} asks you to {a}",
    "{p} watching me {a}",
    "how it feels when {e}",
    "I'm just gonna {a}",
    "when {e} and you have to {a}",
)


def _fill(pattern: str, rng: random.Random) -> str:
    return pattern.format(
        a=rng.choice(ACTIVITIES), e=rng.choice(EVENTS), p=rng.choice(PEOPLE),
        r=rng.choice(REACTIONS), n=rng.choice(NOUNS),
    )  # fmt: skip


def macro_pair(rng: random.Random) -> tuple[str, str]:
    """Top and bottom text for an image macro (either may be empty, as on real ones)."""
    top, bottom = rng.choice(MACRO_PAIRS)
    return _fill(top, rng).upper(), _fill(bottom, rng).upper()


def bar_caption(rng: random.Random) -> str:
    """Sentence-case text for the caption-bar style, mostly lower case as people type it."""
    text = _fill(rng.choice(BAR_CAPTIONS), rng)
    return text if rng.random() < 0.8 else text.capitalize()


def sentence(rng: random.Random, words: tuple[int, int] = (6, 16)) -> str:
    body = " ".join(rng.choice(WORDS) for _ in range(rng.randint(*words)))
    return body.capitalize() + rng.choice((".", ".", ".", "?", "!", ":"))


def paragraph(rng: random.Random, sentences: tuple[int, int] = (2, 6)) -> str:
    return " ".join(sentence(rng) for _ in range(rng.randint(*sentences)))


def title(rng: random.Random, words: tuple[int, int] = (2, 6)) -> str:
    return " ".join(rng.choice(WORDS + NOUNS).capitalize() for _ in range(rng.randint(*words)))


_URL = re.compile(r"\b(?:https?://|www\.)\S+|\b\S+\.(?:com|net|org|co|in)\b\S*", re.IGNORECASE)
_SPACE = re.compile(r"\s+")


def clean_ocr(text: str, *, max_words: int = 24) -> str:
    """Memotion OCR text without watermark URLs, squeezed, and cut to a caption-sized length."""
    words = _SPACE.sub(" ", _URL.sub(" ", text)).strip().split(" ")
    return " ".join(w for w in words[:max_words] if w)


def split_caption(text: str) -> tuple[str, str]:
    """Split one caption into top and bottom halves at the word nearest the middle."""
    words = text.split()
    half = (len(words) + 1) // 2
    return " ".join(words[:half]), " ".join(words[half:])


def pick_pair(rng: random.Random, real: Sequence[str]) -> tuple[str, str]:
    """Made-up macro text, or (40%) a real caption from Memotion split over top and bottom."""
    if real and rng.random() < 0.4:
        top, bottom = split_caption(rng.choice(real))
        return (top.upper(), bottom.upper()) if rng.random() < 0.7 else (top, bottom)
    return macro_pair(rng)


def pick_bar(rng: random.Random, real: Sequence[str]) -> str:
    if real and rng.random() < 0.4:
        return rng.choice(real)
    return bar_caption(rng)
