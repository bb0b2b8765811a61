"""Firms' entry, exit and investment decisions (issue 13, item 4).

Entry. Would-be founders register at the catalogue's rate times

    (procedures / reference_procedures) ^ -procedure_elasticity x (days / reference_days) ^ -days_elasticity

where procedures (window visits per registration) and days are what founders expect: the
exponentially smoothed outcomes of the registrations completed so far (``memory``), starting at
the reference. B1 gives the procedure elasticity: cutting procedures from about 8 to 3 raised
registrations by about 5 %, ln 1.05 / ln(8/3) = 0.05. The days elasticity is assumed small
(B2: cuts of days below about 50-60 % showed no significant effect). Each completed registration
is a new market entity; entities exit at ``exit_rate`` a year (Poisson each day).

Volumes. Firm requests other than registrations are per firm, so their volume follows the
number of market entities (the sampled firm agents stand for the current population: new firms
are placed like the old ones, so who asks where does not change).

Projects. Each investment project has an investor's patience (lognormal, mean
``project_patience_days``, CV 0.5; assumed); a project still unapproved past it is given up.
The file stays with the organisation and is finished (assumed: withdrawals are rare and
paperwork continues), but the investment is counted as lost.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.city.approvals import VISIT
from sim.city.behaviour.learning import smooth_rows
from sim.city.behaviour.satisfaction import experience_score
from sim.city.catalogue import RequestKind
from sim.city.demand import NewRequests
from sim.engine.calendars import DAY
from sim.engine.legs import Legs

PROJECT_CV = 0.5  # assumed: investors' patience varies by half its mean


def entry_multiplier(cfg: dict[str, Any], procedures: float, days: float) -> float:
    """Registrations relative to the catalogue's rate, for expected procedures and days."""
    return float((procedures / cfg["reference_procedures"]) ** -cfg["procedure_elasticity"]
                 * (days / cfg["reference_days"]) ** -cfg["days_elasticity"])


class FirmBehaviour:
    """The firms' rules of one run.

    Args:
        cfg: ``behaviour.firms``.
        kinds: the catalogue.
        firms: real market entities at the start.
        rng: the firms' stream.
    """

    def __init__(self, cfg: dict[str, Any], kinds: list[RequestKind], firms: float,
                 rng: np.random.Generator, satisfaction: dict[str, Any] | None = None) -> None:
        self.cfg = cfg
        self.satisfaction_cfg = satisfaction
        self.rng = rng
        self.registration = next(k.index for k in kinds if k.name == cfg["registration_kind"])
        self.projects = [k.index for k in kinds if k.name in cfg["project_kinds"]]
        self.firm_kinds = [k for k in kinds if k.origin == "firm"]
        self.start = float(firms)
        self.firms = float(firms)
        self.expected = np.array([[cfg["reference_procedures"], cfg["reference_days"]]])
        # what investors expect a project to take (days), learned like founders' expectations
        self.project_expected = np.array([[cfg["reference_days"]]])
        # scored experiences: (day scored, is project, score)
        self.scores: dict[str, list[float]] = {"day": [], "project": [], "score": []}
        self.log: dict[str, list[float]] = {"day": [], "firms": [], "entries": [], "exits": [],
                                            "multiplier": [], "registrations": []}
        self._registrations = 0  # made today
        self._requests = np.zeros(0, dtype=np.int64)  # tracked: registrations and projects
        self._created = np.zeros(0)
        self._is_project = np.zeros(0, dtype=bool)
        self._patience = np.zeros(0)
        self._procedures = np.zeros(0)
        self._trips = np.zeros(0)
        self._expect = np.zeros(0)  # days expected when the firm applied
        self.projects_given_up = 0
        self.projects_made = 0

    def multiplier(self) -> float:
        return entry_multiplier(self.cfg, *self.expected[0])

    def volume_factors(self) -> dict[int, float]:
        """Per firm kind, its demand relative to the catalogue's: entry for registrations, the
        number of market entities for the rest."""
        size = self.firms / self.start if self.start else 1.0
        entry = self.multiplier()
        return {k.index: (entry if k.index == self.registration else size) for k in self.firm_kinds}

    def track(self, offset: int, new: NewRequests, legs: Legs) -> None:
        """Remember the day's registrations and projects (run-wide indices from ``offset``)."""
        mine = np.flatnonzero(np.isin(new.kind, [self.registration, *self.projects]))
        if not len(mine):
            return
        windows = np.bincount(legs.request, weights=(legs.role == VISIT) & ~legs.bounce, minlength=len(new))
        trips = np.bincount(legs.request, weights=legs.trip, minlength=len(new))
        project = new.kind[mine] != self.registration
        sigma2 = np.log1p(PROJECT_CV ** 2)
        patience = self.rng.lognormal(np.log(self.cfg["project_patience_days"]) - sigma2 / 2, np.sqrt(sigma2),
                                      len(mine))
        self._requests = np.concatenate((self._requests, offset + mine))
        self._created = np.concatenate((self._created, new.created[mine]))
        self._is_project = np.concatenate((self._is_project, project))
        self._patience = np.concatenate((self._patience, np.where(project, patience, np.inf)))
        self._procedures = np.concatenate((self._procedures, windows[mine]))
        self._trips = np.concatenate((self._trips, trips[mine]))
        self._expect = np.concatenate((self._expect, np.where(project, self.project_expected[0, 0],
                                                              self.expected[0, 1])))
        self.projects_made += int(project.sum())
        self._registrations += int((~project).sum())

    def observe(self, ready_times: Any, now: float, day: int) -> None:
        """Completed registrations become firms and teach founders; firms exit; impatient
        investors give up."""
        ready = ready_times(self._requests) if len(self._requests) else np.zeros(0)
        done = ready <= now
        waited = (np.where(done, ready, now) - self._created) / DAY
        gave_up = self._is_project & ~done & (waited > self._patience)
        self.projects_given_up += int(gave_up.sum())
        registered = done & ~self._is_project
        entries = int(registered.sum())
        if entries:
            outcome = np.column_stack((self._procedures[registered], waited[registered]))
            smooth_rows(self.expected, np.zeros(entries, dtype=np.int64), outcome, self.cfg["memory"])
        finished = done & self._is_project
        if finished.any():
            smooth_rows(self.project_expected, np.zeros(int(finished.sum()), dtype=np.int64),
                        waited[finished, None], self.cfg["memory"])
        if self.satisfaction_cfg is not None:
            self._score(done | gave_up, waited, gave_up, day)
        keep = ~done & ~gave_up
        for name in ("_requests", "_created", "_is_project", "_patience", "_procedures", "_trips", "_expect"):
            setattr(self, name, getattr(self, name)[keep])
        exits = int(self.rng.poisson(self.firms * self.cfg["exit_rate"] / 365.0))
        self.firms = max(self.firms + entries - exits, 0.0)
        for key, value in (("day", day), ("firms", self.firms), ("entries", entries), ("exits", exits),
                           ("multiplier", self.multiplier()), ("registrations", self._registrations)):
            self.log[key].append(value)
        self._registrations = 0

    def _score(self, ended: np.ndarray, waited: np.ndarray, gave_up: np.ndarray, day: int) -> None:
        """Firms' satisfaction with registrations and projects that ended (``satisfaction``): a
        project given up scores 0."""
        if not ended.any():
            return
        score = experience_score(self.satisfaction_cfg, waited[ended], self._expect[ended],
                                 self._trips[ended], np.zeros(int(ended.sum())), gave_up[ended])
        self.scores["day"].extend([day] * len(score))
        self.scores["project"].extend(self._is_project[ended].tolist())
        self.scores["score"].extend(score.tolist())
