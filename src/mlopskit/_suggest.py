"""Not-found messages that name the closest existing names ("did you mean 'iris'?").

The one place such a hint is made: experiments, metric/param/tag keys, drift columns,
model, alias and dataset names all go through :func:`did_you_mean` (``difflib``'s
``get_close_matches``), so every "did you mean" reads the same way.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from mlopskit.errors import NotFoundError

__all__ = ["did_you_mean", "not_found"]

#: At most this many names are listed when none is close.
SHOWN = 10


def did_you_mean(name: str, choices: Iterable[str], *, noun: str = "names") -> str:
    """The hint that ends a not-found message.

    ``"; did you mean 'iris'?"`` when some choices are close (up to three, closest
    first); otherwise the choices themselves (``"; experiments: 'a', 'b'"``, the first
    :data:`SHOWN` of them), or ``"; there are no experiments"`` when there are none.
    """
    known = sorted({str(c) for c in choices})
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    if close:
        return "; did you mean " + " or ".join(repr(c) for c in close) + "?"
    if not known:
        return f"; there are no {noun}"
    more = f" and {len(known) - SHOWN} more" if len(known) > SHOWN else ""
    return f"; {noun}: " + ", ".join(repr(c) for c in known[:SHOWN]) + more


def not_found(what: str, name: str, choices: Iterable[str], *, noun: str) -> NotFoundError:
    """``NotFoundError("no <what> named 'x'; did you mean 'y'?")`` with ``name`` set."""
    return NotFoundError(
        f"no {what} named {name!r}{did_you_mean(name, choices, noun=noun)}", name=name
    )
