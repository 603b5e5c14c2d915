"""Checks for Lab 10, Choosing a source. Each returns a :class:`esmlab.course.checks.Check` whose
message teaches.

* :func:`payments_choice` (exercise 1): a :class:`~esmlab.course.scenarios.choosing.Choice` that
  meets every requirement of the ``payments`` scenario;
* :func:`audit_choice` (exercise 2): the same for ``audit`` (changes to a table);
* :func:`decision_function` (exercise 3): a function from a scenario's requirements to a choice
  that meets them on the three scenarios of the lab and on one it has not seen, ``clickstream``.

Every check runs the learner's choice in the simulator (:mod:`esmlab.course.scenarios.choosing`)
and quotes the requirements it broke, with the numbers of the run.
"""

from __future__ import annotations

from esmlab.course.checks import Check, defined, failed, passed
from esmlab.course.scenarios import choosing

#: The held-out scenario of exercise 3: no order, but three days of replay, at a rate one lane
#: cannot keep up with.
CLICKSTREAM = choosing.Scenario(
    "clickstream", "Page views for analytics: any order, and the analysts re-read the last three "
    "days when they change a report.", keys=6, rate=16.0, records=48, per_record=0.4,
    order=False, latency=12.0, nothing_lost=True, replay_hours=72)


def _broken(score) -> str:
    lines = [f"* {v.requirement}: {v.why}" for v in score.broken]
    return "\n".join(lines)


def _choice_check(name: str, scenario: str, choice, nudge: str) -> Check:
    if not isinstance(choice, choosing.Choice):
        return failed(f"{name} must be a choosing.Choice, e.g. choosing.Choice(\"kinesis\", "
                      f"pf=2), got {choice!r}.")
    result = choosing.score(scenario, choice)
    if not result.passed:
        return failed(
            f"{scenario} on {choice.describe()} breaks {len(result.broken)} of "
            f"{len(result.verdicts)} requirements:\n{_broken(result)}\n{nudge}")
    run = result.result
    return passed(
        f"{scenario} on {choice.describe()} meets all {len(result.verdicts)} requirements: "
        f"slowest record {max(run.latencies()):.1f} s, {run.invocations} invocations, at most "
        f"{run.peak} at once, the failing record kept.")


# --- exercise 1 ----------------------------------------------------------------------------------


def payments_choice(choice) -> Check:
    return _choice_check(
        "ex1_choice", "payments", choice,
        "Order per account, a rate that one batch at a time cannot keep up with, and a payment "
        "that always fails: the source decides what order you can have, the configuration "
        "decides whether it keeps up and where the failure goes.")


def check_payments_choice(namespace: dict) -> Check:
    found = defined(namespace, "ex1_choice")
    return payments_choice(namespace["ex1_choice"]) if found else found


# --- exercise 2 ----------------------------------------------------------------------------------


def audit_choice(choice) -> Check:
    return _choice_check(
        "ex2_choice", "audit", choice,
        "The records are changes to a table, and the audit must read a day again: which source "
        "records a table's changes itself, and keeps them?")


def check_audit_choice(namespace: dict) -> Check:
    found = defined(namespace, "ex2_choice")
    return audit_choice(namespace["ex2_choice"]) if found else found


# --- exercise 3 ----------------------------------------------------------------------------------


def decision_function(decide) -> Check:
    """``decide(scenario) -> Choice`` meets every requirement of the lab's three scenarios and
    of :data:`CLICKSTREAM`, which the learner has not seen."""
    if not callable(decide):
        return failed(f"ex3_decide must be a function of a choosing.Scenario that returns a "
                      f"choosing.Choice, got {decide!r}.")
    scenarios = [*choosing.SCENARIOS.values(), CLICKSTREAM]
    results = []
    for scenario in scenarios:
        try:
            choice = decide(scenario)
        except Exception as error:  # noqa: BLE001 - the learner's code: show what it raised
            return failed(f"ex3_decide(<{scenario.name}>) raised {type(error).__name__}: "
                          f"{error}. It is given a choosing.Scenario; read its fields (order, "
                          "latency, rate, nothing_lost, replay_hours, table_changes).")
        if not isinstance(choice, choosing.Choice):
            return failed(f"ex3_decide(<{scenario.name}>) returned {choice!r}, not a "
                          "choosing.Choice.")
        results.append(choosing.score(scenario, choice))
    wrong = [r for r in results if not r.passed]
    if wrong:
        first = wrong[0]
        unseen = (" (a scenario you have not seen: "
                  f"{first.scenario.story} Requirements: "
                  f"{'; '.join(first.scenario.requirements())}.)"
                  if first.scenario.name == CLICKSTREAM.name else "")
        return failed(
            f"Your function fails {len(wrong)} of {len(results)} scenarios. "
            f"{first.scenario.name}{unseen} on {first.result.choice.describe()} breaks:\n"
            f"{_broken(first)}\nA decision function has to read every requirement: which "
            "source, then how many batches at once, then where failures go.")
    picks = "; ".join(f"{r.scenario.name}: {r.result.choice.describe()}" for r in results)
    return passed(f"Every scenario met, including one you had not seen ({CLICKSTREAM.name}). "
                  f"Your picks: {picks}.")


def check_decision_function(namespace: dict) -> Check:
    found = defined(namespace, "ex3_decide")
    return decision_function(namespace["ex3_decide"]) if found else found
