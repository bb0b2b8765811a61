"""What residents expect from a channel: learned from their neighbours' and their own experiences.

For each neighbourhood (the residents of one community centre), tracked matter kind and channel,
residents share an expectation of the outcomes (days to resolution, trips), exponentially smoothed
over the neighbourhood's experiences (assumed: adaptive expectations with memory decay, the usual
learning rule of agent-based models of service choice; ``memory`` is the weight of the newest
day's experience). Each resident also remembers how their own experiences of a channel compared
with what they expected (a factor, smoothed the same way), and applies it with ``own_weight``:
someone who found the hall twice as slow as neighbours said expects it slower again.
"""

from __future__ import annotations

import numpy as np

DAYS = 0  # outcome column scaled by a resident's own factor


class Expectations:
    """Learned outcomes per neighbourhood, kind and channel, and own factors per resident and channel.

    Args:
        neighbourhood: each resident's neighbourhood (0 .. n_groups-1).
        n_groups: number of neighbourhoods.
        prior: (n_kinds, n_channels, n_outcomes) what everyone expects before any experience.
        memory: weight of the newest day's experience (0: never learn).
        own_weight: weight of a resident's own factor once they have one.
    """

    def __init__(self, neighbourhood: np.ndarray, n_groups: int, prior: np.ndarray, memory: float,
                 own_weight: float) -> None:
        self.neighbourhood = np.asarray(neighbourhood, dtype=np.int64)
        self.shared = np.broadcast_to(prior, (n_groups, *prior.shape)).copy()
        self.own_factor = np.full((len(self.neighbourhood), prior.shape[1]), np.nan)
        self.memory = memory
        self.own_weight = own_weight

    def expected(self, residents: np.ndarray, kind: np.ndarray) -> np.ndarray:
        """(n, n_channels, n_outcomes) what each resident expects for a matter of ``kind`` (slot)."""
        out = self.shared[self.neighbourhood[residents], kind].copy()
        factor = self.own_factor[residents]
        mix = np.where(np.isnan(factor), 1.0, self.own_weight * factor + (1 - self.own_weight))
        out[:, :, DAYS] *= mix
        return out

    def learn(self, residents: np.ndarray, kind: np.ndarray, channel: np.ndarray, outcomes: np.ndarray,
              expected_days: np.ndarray) -> None:
        """Fold in one day's experiences: outcomes (n, n_outcomes) of matters of ``kind`` (slot)
        brought through ``channel``, and what each resident expected then (days).

        Why one step per day: experiences of one day arrive together (residents hear of their
        neighbours' at the market, not in the order files closed), so each group's mean
        experience of the day is one smoothing step."""
        if not len(residents) or self.memory == 0:
            return
        group = self.neighbourhood[residents]
        n_kinds, n_channels = self.shared.shape[1:3]
        key = (group * n_kinds + kind) * n_channels + channel
        flat = self.shared.reshape(-1, self.shared.shape[3])
        smooth_rows(flat, key, outcomes, self.memory)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = outcomes[:, DAYS] / expected_days
        ok = np.isfinite(ratio)
        own = self.own_factor.reshape(-1, 1)
        smooth_rows(own, residents[ok] * n_channels + channel[ok], ratio[ok, None], self.memory)


def smooth_rows(table: np.ndarray, row: np.ndarray, values: np.ndarray, memory: float) -> None:
    """table[r] <- (1 - memory) * table[r] + memory * (mean of ``values`` given for r), in place
    (``table`` a view is updated); a NaN entry (nothing learned yet) becomes that mean."""
    if not len(row):
        return
    key = np.sort(row)
    distinct = np.empty(len(key), dtype=bool)
    distinct[0] = True
    np.not_equal(key[1:], key[:-1], out=distinct[1:])
    key = key[distinct]  # (as np.unique(row, return_inverse=True), in a fifth of its time)
    inverse = np.searchsorted(key, row)
    count = np.bincount(inverse, minlength=len(key)).astype(float)
    mean = np.stack([np.bincount(inverse, weights=values[:, j], minlength=len(key)) / count
                     for j in range(values.shape[1])], axis=1)
    old = table[key]
    table[key] = np.where(np.isnan(old), mean, (1 - memory) * old + memory * mean)
