"""Agents that decide: residents' channel choice, patience and satisfaction (issue 13)."""

from sim.city.behaviour.residents import ResidentBehaviour, behaviour_on, tracked_kinds

__all__ = ["ResidentBehaviour", "behaviour_on", "tracked_kinds"]
