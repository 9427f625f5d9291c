"""Readable run names like MLflow's: ``adjective-animal-123``, unique per experiment."""

from __future__ import annotations

import random
from collections.abc import Container

from mlopskit.errors import InvalidInputError

__all__ = ["ADJECTIVES", "ANIMALS", "generate_name"]

ADJECTIVES: tuple[str, ...] = (
    "agile", "amber", "ample", "bold", "brave", "bright", "brisk", "calm", "casual", "clever",
    "cool", "crisp", "curious", "daring", "dapper", "eager", "early", "easy", "fancy", "fast",
    "fearless", "fluffy", "fond", "gentle", "giddy", "glad", "golden", "grand", "happy", "hardy",
    "honest", "humble", "jolly", "keen", "kind", "lively", "loyal", "lucky", "merry", "mighty",
    "modest", "neat", "nimble", "noble", "patient", "plucky", "polite", "proud", "quick",
    "quiet", "rare", "ready", "regal", "robust", "rosy", "rustic", "serene", "sharp", "shiny",
    "silent", "silver", "sleek", "smart", "snappy", "sober", "spry", "steady", "sunny", "swift",
    "tidy", "tranquil", "trusty", "upbeat", "valiant", "vivid", "warm", "wise", "witty", "zany",
    "zesty",
)  # fmt: skip

ANIMALS: tuple[str, ...] = (
    "ant", "badger", "bass", "bat", "bear", "beaver", "bee", "bison", "boar", "carp", "cat",
    "cobra", "crab", "crane", "crow", "deer", "dog", "dolphin", "donkey", "dove", "duck",
    "eagle", "eel", "elk", "falcon", "ferret", "finch", "fox", "frog", "gecko", "goat", "goose",
    "gull", "hare", "hawk", "hen", "heron", "horse", "hound", "ibis", "jay", "koala", "lamb",
    "lark", "lemur", "lion", "llama", "lynx", "mole", "moose", "moth", "mouse", "newt", "otter",
    "owl", "ox", "panda", "parrot", "pig", "pony", "puma", "quail", "rabbit", "ram", "raven",
    "robin", "seal", "shark", "sheep", "shrew", "skunk", "sloth", "snail", "squid", "stork",
    "swan", "tiger", "toad", "trout", "turtle", "vole", "whale", "wolf", "wombat", "wren", "yak",
    "zebra",
)  # fmt: skip

_rng = random.SystemRandom()


def generate_name(
    taken: Container[str] = (),
    *,
    attempts: int = 100,
) -> str:
    """A fresh ``adjective-animal-NNN`` name not in ``taken``.

    Args:
        taken: names already used (in the run's experiment).
        attempts: give up after this many collisions (about 6.9 million names exist).
    """
    for _ in range(attempts):
        name = f"{_rng.choice(ADJECTIVES)}-{_rng.choice(ANIMALS)}-{_rng.randrange(1000)}"
        if name not in taken:
            return name
    raise InvalidInputError(
        f"no free run name after {attempts} attempts; pass name=... explicitly",
        found=attempts,
    )
