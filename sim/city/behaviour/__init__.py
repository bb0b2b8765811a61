"""Agents that decide: residents' channel choice, patience and satisfaction; firms' entry, exit
and investment (issue 13). ``Behaviour`` holds the rules a scenario switches on."""

from sim.city.behaviour.schedule import Behaviour, behaviour_on

__all__ = ["Behaviour", "behaviour_on"]
