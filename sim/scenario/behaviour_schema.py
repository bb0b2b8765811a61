"""Schema of ``[behaviour]``: the rules by which residents decide (``sim.city.behaviour``).

Every rule is off by default, so a scenario without the table runs as before; each sub-table
switches one rule on and holds its parameters.
"""

from __future__ import annotations

from sim.scenario.fields import Field

CHANNELS = ("counter", "hall", "online", "hotline")
"""How a resident brings a matter: at the lowest window of its chain (the community centre), at
the next level's hall (township or city service hall), online, or through the hotline."""

AGE_GROUPS = ("under_40", "40_to_59", "60_and_over")
MAX_COUNT_MOVES = 10_000
MAX_HOURS_WHISTLE = 8_760.0

CHANNEL_CHOICE = {
    "enabled": Field("bool", False, help="residents choose a channel for each matter (multinomial logit)"),
    "kinds": Field("list[str]", [], help="request kinds chosen for (empty: every resident kind of "
                   "category personal)"),
    "online_constant": Field("number", 0.0, minimum=-10_000, maximum=10_000,
                             help="alternative-specific constant of online, in minutes of cost saved "
                             "(negative: a cost; the counter's constant is 0)"),
    "hall_constant": Field("number", 0.0, minimum=-10_000, maximum=10_000,
                           help="constant of the next level's hall, in minutes"),
    "hotline_constant": Field("number", 0.0, minimum=-10_000, maximum=10_000,
                              help="constant of the hotline, in minutes"),
    "scale_minutes": Field("number", 30.0, minimum=0, exclusive_minimum=True, maximum=10_000,
                           help="logit scale: minutes of cost difference that change odds by e"),
    "minutes_per_day_waited": Field("number", 30.0, minimum=0, maximum=1_440,
                                    help="cost of one more calendar day until the matter is resolved, "
                                    "in minutes of the resident's own time"),
    "memory": Field("number", 0.2, minimum=0, maximum=1,
                    help="weight of the newest experience in a learned expectation (exponential "
                    "smoothing; 0 = never learn)"),
    "own_weight": Field("number", 0.5, minimum=0, maximum=1,
                        help="weight of a resident's own experience against their neighbours' (the "
                        "residents of the same community centre) once they have one"),
    "prior_days": Field("number", 3.0, minimum=0, maximum=365,
                        help="expected days to resolution before anyone has an experience"),
    "age_shares": Field("list[number]", [0.5, 0.38, 0.12], minimum=0, maximum=1,
                        help="residents' shares by age group: " + ", ".join(AGE_GROUPS)),
    "digital_access": Field("list[number]", [0.95, 0.8, 0.4], minimum=0, maximum=1,
                            help="share of each age group able to use the online channel"),
}

PATIENCE = {
    "enabled": Field("bool", False, help="residents chase matters not resolved within their patience"),
    "mean_days": Field("number", 10.0, minimum=0, exclusive_minimum=True, maximum=365,
                       help="mean patience (calendar days a resident waits before chasing)"),
    "cv": Field("number", 0.5, minimum=0, maximum=5, help="coefficient of variation of patience "
                "across residents (lognormal)"),
    "max_repeats": Field("int", 2, minimum=0, maximum=20,
                         help="follow-up contacts before a resident gives up chasing (abandons)"),
    "follow_up_minutes": Field("number", 10.0, minimum=0, exclusive_minimum=True, maximum=1_440,
                               help="staff minutes the unit holding the matter spends on a follow-up"),
    "supervision_minutes": Field("number", 15.0, minimum=0, exclusive_minimum=True, maximum=1_440,
                                 help="staff minutes supervision spends on a follow-up: a complaint "
                                 "to the next unit up the matter's chain from the one that took it"),
}

SATISFACTION = {
    "tolerance_days": Field("number", 5.0, minimum=0, exclusive_minimum=True, maximum=365,
                            help="days beyond the expected that cut an experience's score by a factor e "
                            "(expectation-disconfirmation)"),
    "trip_penalty": Field("number", 0.1, minimum=0, maximum=1,
                          help="share of the score lost per trip beyond the first"),
    "repeat_penalty": Field("number", 0.25, minimum=0, maximum=1,
                            help="share of the score lost per follow-up the resident had to make"),
    "memory": Field("number", 0.3, minimum=0, maximum=1,
                    help="weight of the newest experience in a resident's satisfaction"),
}

FIRMS = {
    "enabled": Field("bool", False, help="firms enter in response to registration procedures and days, "
                     "exit, and give up investment projects whose approvals take too long"),
    "registration_kind": Field("str", "firm_registration",
                               help="request kind whose completion is a new market entity"),
    "project_kinds": Field("list[str]", ["investment_project", "low_risk_project"],
                           help="firm request kinds that are investment projects"),
    "procedure_elasticity": Field("number", 0.05, minimum=0, maximum=5,
                                  help="elasticity of registrations to the procedures (window visits) a "
                                  "registration takes"),
    "days_elasticity": Field("number", 0.03, minimum=0, maximum=5,
                             help="elasticity of registrations to the days a registration takes"),
    "reference_procedures": Field("number", 4.0, minimum=0, exclusive_minimum=True, maximum=100,
                                  help="procedures at which the catalogue's registration rate holds"),
    "reference_days": Field("number", 80.0, minimum=0, exclusive_minimum=True, maximum=3_650,
                            help="days at which the catalogue's registration rate holds"),
    "memory": Field("number", 0.05, minimum=0, maximum=1,
                    help="weight of the newest day's completed registrations in what founders expect"),
    "exit_rate": Field("number", 0.017, minimum=0, maximum=1,
                       help="share of market entities leaving each year"),
    "project_patience_days": Field("number", 120.0, minimum=0, exclusive_minimum=True, maximum=3_650,
                                   help="mean days an investor waits for a project's approvals before "
                                   "giving it up (lognormal across projects, CV 0.5)"),
}

PATROLS = {
    "enabled": Field("bool", False, help="incidents are found by grid workers on patrol (in the time their "
                     "other work leaves), by residents, or by sensors; the rest stay unfound"),
    "kinds": Field("list[str]", [], help="request kinds found on patrol (empty: every grid-worker kind "
                   "arising from places, rate_basis = residents)"),
    "sweep_km2_per_hour": Field("number", 0.5, minimum=0, exclusive_minimum=True, maximum=100,
                                help="area one grid worker checks in an hour of patrol"),
    "visible_days": Field("number", 14.0, minimum=0, exclusive_minimum=True, maximum=365,
                          help="days an incident can be found before it settles or fades unrecorded"),
    "resident_report_share": Field("number", 0.4, minimum=0, maximum=1,
                                   help="share of incidents some resident would report to the hotline"),
    "resident_report_days": Field("number", 2.0, minimum=0, exclusive_minimum=True, maximum=365,
                                  help="mean days until a resident who would report one does"),
    "sensor_share": Field("number", 0.0, minimum=0, maximum=1,
                          help="share of incidents cameras and sensors find at once (the platform reform "
                          "sets it, M6)"),
}

REDEPLOYMENT = {
    "enabled": Field("bool", False, help="leaders move staff between the units of a pool toward backlog "
                     "every few weeks"),
    "every_days": Field("int", 30, minimum=1, maximum=365, help="days between redeployment rounds"),
    "pools": Field("map", {}, values=Field("list[str]"),
                   help="pool name -> unit kinds whose units may lend staff to each other (one big "
                   "department, its modules, or all instances of one kind)"),
    "flexibility": Field("map", {}, values=Field("number", minimum=0, maximum=1),
                         help="unit kind -> share of its staff that may be lent out in a round; kinds "
                         "not named are rigid (they neither lend nor borrow)"),
    "min_gap_hours": Field("number", 8.0, minimum=0, maximum=10_000,
                           help="queued hours per server by which a unit must exceed another before one "
                           "of the other's staff moves to it"),
    "max_moves": Field("int", 20, minimum=0, maximum=MAX_COUNT_MOVES,
                       help="most staff moved in one pool in one round"),
}

WHISTLE = {
    "enabled": Field("bool", False, help="the community 'blows the whistle': a matter it passes up to a "
                     "department summons that department's officer on call, who answers it first (F14)"),
    "from_level": Field("str", "community", help="level that blows the whistle"),
    "summoned_level": Field("str", "department", help="level of the units it summons"),
    "reserved_staff": Field("int", 1, minimum=0, maximum=100,
                            help="servers each summoned unit keeps on call for summons (taken from its "
                            "own; it keeps at least one for other work)"),
    "response_hours": Field("number", 24.0, minimum=0, exclusive_minimum=True, maximum=MAX_HOURS_WHISTLE,
                            help="the summoned unit's deadline to take the matter up (measured)"),
}

BEHAVIOUR = {
    "channels": Field("table", {}, schema=CHANNEL_CHOICE),
    "patience": Field("table", {}, schema=PATIENCE),
    "firms": Field("table", {}, schema=FIRMS),
    "patrols": Field("table", {}, schema=PATROLS),
    "redeployment": Field("table", {}, schema=REDEPLOYMENT),
    "whistle": Field("table", {}, schema=WHISTLE),
    "satisfaction": Field("table", {}, schema=SATISFACTION,
                          help="scores of experiences (computed whenever a rule above is on)"),
}
