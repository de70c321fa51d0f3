"""Back-test of the breach forecast (workflows.forecast) on a generated history.

Run (no database; seconds):

    .venv/bin/python bench/forecast_backtest.py [--days 260] [--seed 17]

Generates a year of one agency's queue at one step, on the agency's working calendar
(the national calendar Redress ships): cases arrive each working day (Poisson), each with
a deadline a fixed number of working days after arrival; officers of uneven speed take
them earliest-deadline first, and are away on declared absences (a few spells a year).
Every Monday the forecast is made exactly as ``workflows.forecast`` makes it (the queue
ahead in due-date order, each officer's completions over the last 20 working days, the
declared absences, ``forecast.days_to_clear``) for every open case due within the next
week (5 working days); the history then runs on, and each case named or not is compared
with what happened. Prints a Markdown table to paste into bench/RESULTS.md.
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
from workflows.forecast import WINDOW, OfficerRate, days_to_clear

WEEK = 5  # working days: the forecast looks a week ahead


@dataclass
class Item:
    n: int
    arrived: int
    due: int  # index of the working day it is due on
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
    speeds = [rng.uniform(0.6, 1.6) for _ in range(args.officers)]
    arrivals = args.load * sum(speeds)  # cases a working day, near the officers' capacity
    absent: dict[int, set[int]] = {o: set() for o in range(args.officers)}
    for o in absent:
        for _ in range(3):
            start = rng.randrange(len(days))
            absent[o].update(range(start, start + rng.randint(2, 8)))
    # The load swings with the season, so the queue grows and shrinks.
    items: list[Item] = []
    open_items: list[Item] = []
    done_by: dict[int, deque] = {o: deque() for o in range(args.officers)}
    forecasts: list[tuple[Item, bool]] = []
    for t in range(len(days)):
        season = 1.0 + 0.35 * ((t // 40) % 2 == 1) - 0.2 * ((t // 65) % 3 == 0)
        for _ in range(poisson(rng, arrivals * season)):
            item = Item(len(items), t, t + args.deadline)
            items.append(item)
            open_items.append(item)
        if t >= WINDOW and days[t].weekday() == 0 and t < args.days + WINDOW:
            forecasts.extend(forecast_monday(t, open_items, done_by, absent, args.officers))
        # The day's work: earliest deadline first.
        open_items.sort(key=lambda i: (i.due, i.n))
        for o in range(args.officers):
            if t in absent[o]:
                continue
            for _ in range(poisson(rng, speeds[o])):
                if not open_items:
                    break
                item = open_items.pop(0)
                item.done = t
                done_by[o].append(t)
    named = sum(1 for _, breach in forecasts if breach)
    actual = [(i, b) for i, b in forecasts if i.done is None or i.done > i.due]
    caught = sum(1 for _, breach in actual if breach)
    wrong = sum(1 for i, breach in forecasts if breach and i.done is not None and i.done <= i.due)
    return {
        "looked_at": len(forecasts),
        "actual": len(actual),
        "named": named,
        "caught": caught,
        "wrong": wrong,
        "missed": len(actual) - caught,
        "days": args.days,
        "mondays": sum(1 for t in range(WINDOW, args.days + WINDOW) if days[t].weekday() == 0),
    }


def forecast_monday(t, open_items, done_by, absent, officers):
    """The forecast made on working day ``t`` for every open item due within a week."""
    rates = [
        OfficerRate(
            o, sum(1 for d in done_by[o] if t - WINDOW <= d < t) / WINDOW, frozenset(absent[o])
        )
        for o in range(officers)
    ]
    queue = sorted(open_items, key=lambda i: (i.due, i.n))
    out = []
    for position, item in enumerate(queue, 1):
        if not (t <= item.due < t + WEEK):
            continue
        cleared = days_to_clear(position, rates, range(t, item.due + 1))
        out.append((item, cleared is None))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=240, help="working days of forecasts")
    parser.add_argument("--officers", type=int, default=3)
    parser.add_argument(
        "--load", type=float, default=0.95, help="arrivals as a share of the officers' speed"
    )
    parser.add_argument("--histories", type=int, default=20, help="generated histories")
    parser.add_argument("--deadline", type=int, default=10, help="working days to decide")
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()
    r: dict = {}
    seed = args.seed
    for n in range(args.histories):
        args.seed = seed + n
        for key, value in simulate(args).items():
            r[key] = r.get(key, 0) + value
    args.seed = seed
    precision = r["caught"] / r["named"] if r["named"] else 0.0
    recall = r["caught"] / r["actual"] if r["actual"] else 0.0
    print(
        f"{args.histories} histories of {args.days} working days ({r['mondays']} Monday "
        f"forecasts in all), {args.officers} officers, arrivals {args.load:.0%} of their "
        f"speed with seasonal swings, deadline {args.deadline} working days, seeds "
        f"{seed}-{seed + args.histories - 1}\n"
    )
    print(
        "| deadlines due within the week, looked at | actual breaches | named by the forecast "
        "| of them breached (named rightly) | named wrongly | breaches not named | precision | recall |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    print(
        f"| {r['looked_at']} | {r['actual']} | {r['named']} | {r['caught']} | {r['wrong']} "
        f"| {r['missed']} | {precision:.0%} | {recall:.0%} |"
    )


if __name__ == "__main__":
    main()
