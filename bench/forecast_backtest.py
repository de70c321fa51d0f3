"""Back-test of the breach forecast (workflows.forecast) on a generated history.

Run (no database; seconds):

    .venv/bin/python bench/forecast_backtest.py [--steps 3] [--load 0.95] [--seed 17]

Generates histories of one agency's cases going through ``--steps`` steps one after the
other (by default three: evidence review by ``--officers`` case officers, then legal review
and sign-off by ``--later-officers`` each, as a small agency has one legal reviewer and
one signing official), on the agency's working calendar (the national calendar Redress
ships): cases arrive each working day (Poisson), each with a deadline a fixed number of
working days after arrival that is met when the last step is done; officers of uneven
speed take the cases waiting at their step earliest-deadline first (a case done at one
step waits at the next from the following working day), and are away on declared
absences (a few spells a year). Every Monday the forecast is made exactly as
``workflows.forecast`` makes it (at each step from the case's own to the last, the queue
ahead in due-date order, at a later step with the cases due earlier that reach it from a
step before no later than the case (``forecast.arrivals``), each officer's completions of
that step over the last 20 working days, the declared absences,
``forecast.stages_to_clear``) for every open case due within
the next week (5 working days), and also as the forecast was made before: with
the later steps' queues as they stood that day, and with the case's own step only
(``forecast.days_to_clear``); the history then runs
on, and each case named or not is compared with what happened. Prints a Markdown table to
paste into bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import os
import random
import sys
from collections import deque
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from cases.calendar import WorkingCalendar
from workflows.forecast import (
    WINDOW,
    OfficerRate,
    Stage,
    Waiting,
    arrivals,
    days_to_clear,
    stages_to_clear,
)

WEEK = 5  # working days: the forecast looks a week ahead


STEPS = ["evidence_review", "legal_review", "sign_off"]


@dataclass
class Item:
    n: int
    arrived: int
    due: int  # index of the working day it is due on
    stage: int = 0  # the step it waits at
    ready: int = 0  # the first working day it can be taken there
    done: int | None = None


def poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method: fine for small means."""
    limit, k, p = pow(2.718281828459045, -mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def simulate(args) -> dict:
    rng = random.Random(args.seed)
    calendar = WorkingCalendar([], known_years=[2025, 2026])
    days, day = [], datetime.date(2025, 1, 2)
    while len(days) < args.days + WINDOW + 30:
        if calendar.is_working_day(day):
            days.append(day)
        day += datetime.timedelta(days=1)
    steps = args.steps
    staff = [args.officers] + [args.later_officers] * (steps - 1)
    speeds = [[rng.uniform(0.6, 1.6) for _ in range(n)] for n in staff]
    first = sum(speeds[0])
    for k in range(1, steps):  # a later step's capacity: 100 % to 125 % of the first's
        factor = first * rng.uniform(1.0, 1.25) / sum(speeds[k])
        speeds[k] = [speed * factor for speed in speeds[k]]
    arrivals = args.load * first  # cases a working day, near the first step's capacity
    absent = [{o: set() for o in range(n)} for n in staff]
    for k in range(steps):
        for o in absent[k]:
            for _ in range(3):
                start = rng.randrange(len(days))
                absent[k][o].update(range(start, start + rng.randint(2, 8)))
    items: list[Item] = []
    open_items: list[Item] = []
    done_by = [{o: deque() for o in range(n)} for n in staff]
    forecasts: list[tuple[Item, bool, bool, bool]] = []
    for t in range(len(days)):
        # The load swings with the season, so the queues grow and shrink.
        season = 1.0 + 0.35 * ((t // 40) % 2 == 1) - 0.2 * ((t // 65) % 3 == 0)
        for _ in range(poisson(rng, arrivals * season)):
            item = Item(len(items), t, t + args.deadline, ready=t)
            items.append(item)
            open_items.append(item)
        if t >= WINDOW and days[t].weekday() == 0 and t < args.days + WINDOW:
            forecasts.extend(forecast_monday(t, open_items, done_by, absent, steps))
        # The day's work at each step: earliest deadline first.
        for k in range(steps):
            queue = sorted(
                (i for i in open_items if i.stage == k and i.ready <= t),
                key=lambda i: (i.due, i.n),
            )
            for o in range(staff[k]):
                if t in absent[k][o]:
                    continue
                for _ in range(poisson(rng, speeds[k][o])):
                    if not queue:
                        break
                    item = queue.pop(0)
                    done_by[k][o].append(t)
                    if k == steps - 1:
                        item.done = t
                        open_items.remove(item)
                    else:
                        item.stage, item.ready = k + 1, t + 1
    result = {
        "days": args.days,
        "mondays": sum(1 for t in range(WINDOW, args.days + WINDOW) if days[t].weekday() == 0),
        "looked_at": len(forecasts),
    }
    late = [i.done is None or i.done > i.due for i, *_models in forecasts]
    result["actual"] = sum(late)
    for model, index in (("projected", 1), ("today", 2), ("own", 3)):
        named = [f[index] for f in forecasts]
        result[f"{model}_named"] = sum(named)
        result[f"{model}_caught"] = sum(1 for n, b in zip(named, late, strict=True) if n and b)
        result[f"{model}_wrong"] = sum(1 for n, b in zip(named, late, strict=True) if n and not b)
        result[f"{model}_missed"] = result["actual"] - result[f"{model}_caught"]
    return result


def forecast_monday(t, open_items, done_by, absent, steps):
    """The forecast made on working day ``t`` for every open item due within a week, by
    three models: the steps still ahead with their queues projected (the cases due earlier
    at a step before joining them, ``forecast.arrivals``: as ``workflows.forecast`` makes
    it now), the steps ahead with their queues as they stand today (as it did before), and
    the item's own step only (as it did first)."""
    rates = [
        [
            OfficerRate(
                o,
                sum(1 for d in done_by[k][o] if t - WINDOW <= d < t) / WINDOW,
                frozenset(absent[k][o]),
            )
            for o in done_by[k]
        ]
        for k in range(steps)
    ]
    by_stage = [sorted((i.due, i.n) for i in open_items if i.stage == k) for k in range(steps)]
    waiting = [Waiting((i.due, i.n), tuple(STEPS[i.stage : steps])) for i in open_items]
    reached = arrivals(
        waiting, {STEPS[k]: rates[k] for k in range(steps)}, range(t, t + WEEK), STEPS[:steps]
    )
    out = []
    for item in open_items:
        if not (t <= item.due < t + WEEK):
            continue
        days = range(t, item.due + 1)
        mine = (item.due, item.n)
        today = [
            Stage(STEPS[k], sum(1 for key in by_stage[k] if key < mine), rates[k])
            for k in range(item.stage, steps)
        ]
        projected = [today[0]] + [
            Stage(
                stage.step,
                stage.ahead,
                stage.officers,
                tuple(
                    sorted(
                        reached[w.order][stage.step]
                        for w in waiting
                        if w.order < mine
                        and w.path[0] != stage.step
                        and stage.step in reached[w.order]
                    )
                ),
            )
            for stage in today[1:]
        ]
        now, _neck, _each = stages_to_clear(projected, days)
        before, _neck, _each = stages_to_clear(today, days)
        own = days_to_clear(today[0].ahead + 1, rates[item.stage], days)
        out.append((item, now is None, before is None, own is None))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=240, help="working days of forecasts")
    parser.add_argument("--steps", type=int, default=3, choices=[1, 2, 3])
    parser.add_argument("--officers", type=int, default=3, help="officers at the first step")
    parser.add_argument("--later-officers", type=int, default=1, help="officers at each later step")
    parser.add_argument(
        "--load", type=float, default=0.95, help="arrivals as a share of the first step's speed"
    )
    parser.add_argument("--histories", type=int, default=20, help="generated histories")
    parser.add_argument("--deadline", type=int, default=15, help="working days to decide")
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()
    r: dict = {}
    seed = args.seed
    for n in range(args.histories):
        args.seed = seed + n
        for key, value in simulate(args).items():
            r[key] = r.get(key, 0) + value
    args.seed = seed
    print(
        f"{args.histories} histories of {args.days} working days ({r['mondays']} Monday "
        f"forecasts in all), {args.steps} steps ({args.officers} officers at the first, "
        f"{args.later_officers} at each later), arrivals {args.load:.0%} of the first step's "
        f"speed with seasonal swings, deadline {args.deadline} working days, seeds "
        f"{seed}-{seed + args.histories - 1}\n"
    )
    print(
        "| model | deadlines due within the week, looked at | actual breaches | named "
        "| named rightly | named wrongly | breaches not named | precision | recall |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for model, label in (
        ("own", "own step only"),
        ("today", "steps ahead walked, their queues as today"),
        ("projected", "steps ahead walked, their queues projected"),
    ):
        named, caught = r[f"{model}_named"], r[f"{model}_caught"]
        precision = caught / named if named else 0.0
        recall = caught / r["actual"] if r["actual"] else 0.0
        print(
            f"| {label} | {r['looked_at']:,} | {r['actual']:,} | {named:,} | {caught:,} "
            f"| {r[f'{model}_wrong']:,} | {r[f'{model}_missed']:,} | {precision:.0%} "
            f"| {recall:.0%} |"
        )


if __name__ == "__main__":
    main()
