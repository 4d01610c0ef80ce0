"""Simulated circles of care for demos, tests and benchmarks.

`demo.simulate` is the entry point (`care_events`, `simulate`, `run_simulation`). One client's
course is built in layers, each calling only the layers below it: `staff` (organizations and
members), `client` (profile, latent state, the event queue), `clinical` (instruments), `course`
(team, intake, check-ins, sessions, appointments, goals, medications, discharge), then `crises`
and `handoffs` side by side; `simulate` tells the days. Imports `domain` only.
"""
