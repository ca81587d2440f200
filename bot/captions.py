"""The /memeify caption bank: a few friendly top/bottom captions for each facial expression."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Caption:
    top: str
    bottom: str


# Everyday situations only: nobody in the photo is the butt of the joke, whoever they are.
CAPTIONS: dict[str, tuple[Caption, ...]] = {
    "happy": (
        Caption("When the code compiles", "on the first try"),
        Caption("Me when someone says", "the pizza is here"),
        Caption("Friday afternoon", "energy"),
        Caption("When the wifi connects", "automatically"),
        Caption("Finally found", "the matching sock"),
    ),
    "sad": (
        Caption("When the ice cream", "falls off the cone"),
        Caption("Me realising", "it's only Tuesday"),
        Caption("Phone at 1%", "charger in the other room"),
        Caption("When the last slice", "was already taken"),
    ),
    "angry": (
        Caption("When the printer says", "paper jam again"),
        Caption("Who moved", "my charger?"),
        Caption("When the game lags", "at the final boss"),
        Caption("Me when the meeting", "could have been an email"),
    ),
    "surprise": (
        Caption("Wait...", "it's already Friday?"),
        Caption("Me seeing my", "screen time report"),
        Caption("When the bug", "fixes itself"),
        Caption("When the recipe says", "prep time: 5 minutes"),
    ),
    "fear": (
        Caption("When the teacher says", "pop quiz"),
        Caption("Hearing a noise", "at 3 AM"),
        Caption("When you hit reply all", "by accident"),
        Caption("When the phone rings", "and it's not a text"),
    ),
    "disgust": (
        Caption("Me looking at", "my old code"),
        Caption("When the milk", "smells like that"),
        Caption("When someone leaves", "one sip in the carton"),
        Caption("Opening the fridge", "after a long holiday"),
    ),
    "neutral": (
        Caption("Me pretending", "to listen in the meeting"),
        Caption("When they ask if I read", "the terms and conditions"),
        Caption("Monday morning", "loading..."),
        Caption("Calm on the outside", "buffering on the inside"),
    ),
}


def pick_caption(expression: str, rng: random.Random) -> Caption:
    """A caption for `expression` (neutral ones for a label the bank does not know)."""
    return rng.choice(CAPTIONS.get(expression, CAPTIONS["neutral"]))
