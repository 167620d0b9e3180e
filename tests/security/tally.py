"""What the attack matrix saw, per endpoint and attack, for the summary printed at the end of
the run (and copied into the README's "Inbound under attack" table)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass


@dataclass(frozen=True)
class Seen:
    """One attack variant's result (or a control's, or why an attack does not apply)."""

    platform: str
    endpoint: str
    attack: str
    label: str
    outcome: str  # "refused 401", "told 200", "absorbed 200", "accepted 200", "n/a"


SEEN: list[Seen] = []
FUZZED: dict[str, tuple[int, int, float]] = {}  # target: (bodies, requests, seconds)


def fuzzed(target: str, bodies: int, requests: int, seconds: float = 0.0) -> None:
    """Remember how many generated bodies ``target`` (a parser or an endpoint) was fed."""
    FUZZED[target] = (bodies, requests, seconds)


def fuzz_totals() -> list[str]:
    """One line per fuzzed target and the total (empty when nothing was fuzzed)."""
    if not FUZZED:
        return []
    lines = [f"{t}: {b} bodies, {r} requests" for t, (b, r, _s) in sorted(FUZZED.items())]
    bodies = sum(b for b, _r, _s in FUZZED.values())
    requests = sum(r for _b, r, _s in FUZZED.values())
    lines.append(f"total: {bodies} generated bodies, {requests} requests, {len(FUZZED)} targets")
    return lines


def record(platform: str, endpoint: str, attack: str, label: str, outcome: str) -> None:
    """Remember one result for the summary."""
    SEEN.append(Seen(platform, endpoint, attack, label, outcome))


COLUMNS = (
    "endpoints",
    "attack cases",
    "refused 4xx",
    "2xx, nothing changed",
    "controls accepted",
    "n/a",
)


def table() -> list[str]:
    """The per-platform counts as Markdown table lines (empty when nothing ran)."""
    if not SEEN:
        return []
    rows: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COLUMNS, 0))
    endpoints: dict[str, set[str]] = defaultdict(set)
    for seen in SEEN:
        row = rows[seen.platform]
        endpoints[seen.platform].add(seen.endpoint)
        kind = seen.outcome.split(" ", 1)[0]
        if kind == "n/a":
            row["n/a"] += 1
        elif kind == "accepted":
            row["controls accepted"] += 1
        else:
            row["attack cases"] += 1
            row["refused 4xx" if kind == "refused" else "2xx, nothing changed"] += 1
    lines = [
        "| platform | " + " | ".join(COLUMNS) + " |",
        "| --- |" + " ---: |" * len(COLUMNS),
    ]
    total = dict.fromkeys(COLUMNS, 0)
    for platform in sorted(rows):
        rows[platform]["endpoints"] = len(endpoints[platform])
        for column in COLUMNS:
            total[column] += rows[platform][column]
        lines.append(
            f"| {platform} | " + " | ".join(str(rows[platform][c]) for c in COLUMNS) + " |"
        )
    lines.append("| **all** | " + " | ".join(f"**{total[c]}**" for c in COLUMNS) + " |")
    return lines


def not_applicable() -> list[str]:
    """Every attack that does not apply, with why (one line each)."""
    return sorted({f"{s.endpoint} · {s.attack}: {s.label}" for s in SEEN if s.outcome == "n/a"})
