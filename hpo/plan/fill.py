"""Filling the final stage's share: of the lengths and epochs that fit the seconds it has, which
it trains (:func:`fill_share`).

One rule, used twice: by the planner when the plan has no search (the share is an estimate:
the allowances for preparing and the baselines, the machine's measured rates), and by the
final stage when it starts (:func:`hpo.plan.replan.final_length`: the share is the time
actually left and the rates it has just timed).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from hpo.config.reference import FINAL_EPOCH_STEPS
from hpo.plan.constants import FILL, MAX_EPOCHS, READ_LENGTH


def fill_share(
    seconds: Callable[[int, float], float],
    lengths: Sequence[int],
    least_epochs: float,
    usable: float,
    *,
    floor: float | None = None,
) -> tuple[int, float]:
    """The length and epochs of a final stage given ``usable`` seconds: of ``lengths`` and the
    epochs from ``least_epochs`` up to :data:`MAX_EPOCHS` (on the final stage's grid of
    twentieths; a length longer than the shortest of ``lengths`` and than :data:`READ_LENGTH`
    only for whole epochs, since a part of train is read at up to that) whose
    ``seconds(length, epochs)`` fill at least :data:`FILL` of ``usable`` without passing it, the
    longest length, then the most epochs; where none fills that much, the pair that fills most;
    where none fits, the cheapest (which the run's deadline then cuts).

    ``floor``: fewer epochs than ``least_epochs`` (down to ``floor``) only at the shortest of
    ``lengths``: a longer length is taken for the recipe's epochs, never by trading them away
    (on BBC News at 5 minutes, each longer length trained for fewer than the recipe's epochs
    scored below the shortest with more, once significantly: ``docs/results/equal-budget.md``).
    """
    step = FINAL_EPOCH_STEPS
    least = max(1, round(step * least_epochs))
    lowest = least if floor is None else min(least, max(1, round(step * floor)))
    first = min(lengths)
    reach = max(READ_LENGTH, first)
    options = [
        (seconds(n, k / step), n, k / step)
        for n in lengths
        for k in range(
            lowest if n == first else least if n <= reach else max(least, step),
            step * MAX_EPOCHS + 1,
        )
    ]
    fits = [o for o in options if o[0] <= usable]
    full = [o for o in fits if o[0] >= FILL * usable]
    if full:
        _, length, epochs = max(full, key=lambda o: (o[1], o[2]))
    else:
        _, length, epochs = max(fits) if fits else min(options)
    return length, epochs
