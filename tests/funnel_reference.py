"""Slow, plain-Python references for the product funnel options, written for clarity.

Chains are enumerated exhaustively (every combination of events), so the engine's one-slot-per-
step shortcut is checked against the definition rather than against a copy of itself. Only the
exclusion rule is stated over the chains the funnel tracks (the latest chain at each step), so
its reference replays that rule step by step.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Ev:
    time: int
    row: int
    steps: frozenset[int]  # zero-based steps the event matches
    exclusions: frozenset[int] = frozenset()
    hold: object = 0


@dataclass
class Spec:
    n: int
    window: int
    order: str = "sequential"
    counting: str = "users"
    step_windows: list[int | None] = field(default_factory=list)
    optional: list[bool] = field(default_factory=list)
    exclusions: list[tuple[int, int]] = field(default_factory=list)
    end: int = 10**9

    def __post_init__(self) -> None:
        self.step_windows = self.step_windows or [None] * self.n
        self.optional = self.optional or [False] * self.n


@dataclass(frozen=True)
class Result:
    level: int
    start: int  # time of the chain's step 1 (for "in progress")
    excluded: bool = False

    def in_progress(self, spec: Spec) -> bool:
        return not self.excluded and 0 < self.level < spec.n and self.start + spec.window > spec.end


# -- ordered chains, enumerated ------------------------------------------------------------------


def _chains_from(events: list[Ev], spec: Spec, first: int) -> list[list[tuple[int, Ev]]]:
    """Every valid chain starting with step 1 at ``events[first]``."""
    out: list[list[tuple[int, Ev]]] = []
    times = sorted({e.time for e in events})

    def nothing_between(a: int, b: int) -> bool:
        return not any(a < t < b for t in times)

    def grow(chain: list[tuple[int, Ev]]) -> None:
        out.append(chain)
        last_step, last = chain[-1]
        start = chain[0][1].time
        for step in range(last_step + 1, spec.n):
            if any(not spec.optional[s] for s in range(last_step + 1, step)):
                break
            for event in events:
                if step not in event.steps or event.time < last.time:
                    continue
                if event.time > start + spec.window:
                    continue
                limit = spec.step_windows[step]
                if limit is not None and event.time - last.time > limit:
                    continue
                if spec.order == "strict" and not nothing_between(last.time, event.time):
                    continue
                grow([*chain, (step, event)])

    grow([(0, events[first])])
    return out


def ordered_users(events: list[Ev], spec: Spec) -> Result | None:
    """The furthest step any chain reaches; ``start`` is the latest start among chains that
    reach it (the user is in progress while any of them can still move on)."""
    best: tuple[int, int] | None = None  # (level, start)
    for i, event in enumerate(events):
        if 0 not in event.steps:
            continue
        for chain in _chains_from(events, spec, i):
            key = (chain[-1][0] + 1, chain[0][1].time)
            if best is None or key > best:
                best = key
    if best is None:
        return None
    return Result(level=best[0], start=best[1])


def ordered_attempts(events: list[Ev], spec: Spec) -> list[Result]:
    """Attempts (sequential order): each starts at the first step-1 event after the previous
    attempt ended (completed, or its window passed)."""
    results = []
    after = None
    while True:
        first = next(
            (i for i, e in enumerate(events) if 0 in e.steps and (after is None or e.time > after)),
            None,
        )
        if first is None:
            return results
        chains = _chains_from(events, spec, first)
        start = events[first].time
        level = max(c[-1][0] + 1 for c in chains)
        done = [c[-1][1].time for c in chains if c[-1][0] + 1 == spec.n]
        results.append(Result(level=level, start=start))
        after = min(done) if done else start + spec.window


# -- any order ---------------------------------------------------------------------------------


def _distinct_in(events: list[Ev], start: int, spec: Spec) -> int:
    seen: set[int] = set()
    for e in events:
        if start <= e.time <= start + spec.window:
            seen |= e.steps
    return min(len(seen), spec.n)


def any_users(events: list[Ev], spec: Spec) -> Result | None:
    best = None
    for e in events:
        if not e.steps:
            continue
        level = _distinct_in(events, e.time, spec)
        if best is None or level > best.level or (level == best.level and e.time > best.start):
            best = Result(level=level, start=e.time)
    return best


def any_attempts(events: list[Ev], spec: Spec) -> list[Result]:
    results = []
    after = None
    for e in events:
        if not e.steps or (after is not None and e.time <= after):
            continue
        level = _distinct_in(events, e.time, spec)
        results.append(Result(level=level, start=e.time))
        if level == spec.n:
            seen: set[int] = set()
            for f in events:
                if e.time <= f.time <= e.time + spec.window:
                    seen |= f.steps
                    if len(seen) >= spec.n:
                        after = f.time
                        break
        else:
            after = e.time + spec.window
    return results


# -- exclusions, replayed over the tracked chains ------------------------------------------------


def excluded_users(events: list[Ev], spec: Spec) -> Result | None:
    """Sequential order with exclusions: the latest chain at each step, exclusions applied at
    each instant after its steps; the best chain is the first to reach the furthest step."""
    slots: list[tuple | None] = [None] * spec.n  # (start, last, entry row, last row)
    best: list | None = None  # [level, start, entry, last row, excluded]
    latest = 0  # latest start among chains at the best level, for "in progress"
    for time in sorted({e.time for e in events}):
        now = [e for e in events if e.time == time]
        for step in range(spec.n):
            for e in now:
                if step not in e.steps:
                    continue
                if step == 0:
                    chain = (time, time, e.row, e.row)
                else:
                    previous = slots[step - 1]
                    if previous is None or time > previous[0] + spec.window:
                        continue
                    chain = (previous[0], time, previous[2], e.row)
                slots[step] = chain
                if best is None or step + 1 > best[0] or (step + 1 == best[0] and best[4]):
                    best = [step + 1, chain[0], chain[2], chain[3], False]
                    latest = chain[0]
                elif step + 1 == best[0]:
                    latest = max(latest, chain[0])
        hits = {x for e in now for x in e.exclusions}
        for step in range(spec.n):
            chain = slots[step]
            if chain is None:
                continue
            level = step + 1
            hit = any(spec.exclusions[x][0] <= level < spec.exclusions[x][1] for x in hits)
            if hit and chain[1] < time <= chain[0] + spec.window:
                if best is not None and (best[2], best[0], best[3]) == (chain[2], level, chain[3]):
                    best[4] = True
                slots[step] = None
        if best is not None and best[0] == spec.n and not best[4]:
            break
    if best is None:
        return None
    return Result(level=best[0], start=latest, excluded=best[4])


def by_user(events: list[Ev], spec: Spec) -> Result | list[Result] | None:
    """Dispatch one user's (or one held value's) events, in time order, to the right reference."""
    if spec.exclusions:
        return excluded_users(events, spec)
    if spec.order == "any":
        return any_users(events, spec) if spec.counting == "users" else any_attempts(events, spec)
    if spec.counting == "users":
        return ordered_users(events, spec)
    return ordered_attempts(events, spec)
