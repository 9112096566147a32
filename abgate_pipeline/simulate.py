"""Deterministic demo traffic with known true effects, written as landing files (DESIGN.md §2).

`simulate()` writes what two production systems would drop into the landing folder for the bundled
demo (`demo/experiments.yaml`): LLM request logs and delayed outcome events, day by day, with a
few malformed lines and some planted PII. Because the true effects are chosen here, the gate's
verdicts can be checked end to end:

- (a) `support-bot-model-upgrade`, 90/10: the challenger resolves 3 points more tickets inside the
  72 h window (0.45 -> 0.48) and harms no guardrail (same latency, refusal and schema-valid rates;
  cost per request +~2.5 %, so cost per resolution falls) -> promote.
- (b) `sales-assistant-cheaper-model`, 50/50: the challenger is 35 % cheaper per request, but every
  latency quantile is x1.25 and it refuses 3 % instead of 1 %; leads qualify as before -> rollback.

The unit is the user: a user belongs to one experiment and one variant for good, arrives on some
day and opens 1 + Poisson(0.6) tickets (or sales conversations) with 1-5 requests each. A
user-level random effect (probit-normal) makes some users succeed more than others, so per-user
values vary beyond binomial noise (room for CUPED). Everything is drawn from
`numpy.random.default_rng(seed)` and vectorised, so the same arguments give byte-identical files
in a few seconds.

The default volume (~290k requests) is sized for the gate's final look: at day 14, over the tickets
whose 72 h window has closed (started by day 11), the per-user resolution-rate difference of (a)
has a standard error of ~0.0056, so its expected z is ~5.4 (seed 20261101 happens to give 6.9).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from json.encoder import encode_basestring
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

SECOND_MS = 1_000
MINUTE_MS = 60 * SECOND_MS
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS

SUMMARY_FILE = "_simulation.json"
PART_FILE = "part-0000.jsonl"
INFERENCE_DIR = "inference_logs"
OUTCOMES_DIR = "outcomes"
VARIANTS = ("champion", "challenger")

# Share of arrivals per UTC hour: a support/sales desk is busiest in office hours.
HOURLY_WEIGHTS = np.array(
    [1, 1, 1, 1, 1, 2, 3, 5, 7, 8, 8, 8, 7, 8, 8, 8, 7, 6, 5, 4, 3, 2, 2, 1], dtype=float
)
WEEKEND_WEIGHT = 0.6  # fewer new users on Saturdays and Sundays
EXTRA_KEYS_MEAN = 0.6  # tickets/conversations per user = 1 + Poisson(0.6)
EXTRA_KEYS_SPREAD_MS = 7 * DAY_MS  # a user's later tickets fall within a week of the first
REQUESTS_PER_KEY_P = (0.60, 0.20, 0.10, 0.06, 0.04)  # 1..5 requests per key, mean 1.74
USER_EFFECT_SD = 0.6  # probit-scale sd of the user-level random effect
LATENCY_SIGMA = 0.55  # log-normal shape: p95 = median * e^(1.645 * 0.55) ~ median * 2.47
INPUT_TOKENS_SIGMA = 0.35
OUTPUT_TOKENS_SIGMA = 0.6
HISTORY_TOKENS_PER_TURN = 120  # follow-up requests carry the conversation so far
MAX_OUTPUT_TOKENS = 600  # longer completions are cut: finish_reason "length" (~2 %)
ERROR_RATE = 0.005  # provider errors, answered by a canned fallback
SCHEMA_VALID_RATE = 0.98
PII_PROMPT_RATE = 0.01  # share of prompts that carry a planted PII string
PII_RESPONSE_RATE = 0.002  # share of responses that echo a contact detail


@dataclass(frozen=True)
class Arm:
    """What one variant of an experiment serves, and how its users behave under it."""

    model: str
    prompt_version: str
    in_window_probability: float  # P(outcome inside the attribution window) per key
    latency_median_ms: float
    refusal_rate: float
    price_per_mtok: tuple[float, float]  # USD per million (input, output) tokens
    output_token_factor: float = 1.0


@dataclass(frozen=True)
class LogNormalDelay:
    """Hours from a key's first request to its outcome event, log-normally distributed."""

    median_hours: float
    sigma: float

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.exp(math.log(self.median_hours) + self.sigma * rng.standard_normal(n))

    def share_within(self, hours: float) -> float:
        return float(ndtr((math.log(hours) - math.log(self.median_hours)) / self.sigma))


@dataclass(frozen=True)
class UniformDelay:
    """Hours from a key's first request to its outcome event, uniform between two bounds."""

    low_hours: float
    high_hours: float

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.uniform(self.low_hours, self.high_hours, n)

    def share_within(self, hours: float) -> float:
        return min(1.0, max(0.0, (hours - self.low_hours) / (self.high_hours - self.low_hours)))


@dataclass(frozen=True)
class Texts:
    """Short realistic prompt/response templates; `{...}` slots are filled per request."""

    openers: dict[str, tuple[str, ...]]  # by segment value
    follow_ups: tuple[str, ...]
    answers: dict[str, tuple[str, ...]]  # by segment value
    refusal: str
    fallback: str = (
        "Sorry, something went wrong on our side. A member of our team will follow up shortly."
    )


@dataclass(frozen=True)
class Scenario:
    """One experiment of the demo config with its true effects and traffic shape."""

    experiment_id: str
    expected_verdict: str
    challenger_share: float
    users: int  # at scale 1.0
    unit_prefix: str
    key_prefix: str
    key_start: int
    segment: str
    segment_weights: dict[str, float]
    outcome: str
    outcome_source: str
    attribution_window_hours: float
    outcome_delay: LogNormalDelay | UniformDelay
    input_tokens_median: float
    output_tokens_median: float
    arms: dict[str, Arm]
    texts: Texts
    survey_rate: float = 0.0  # share of tickets that get a CSAT survey answer
    # Days of pre-experiment history: resolved tickets per user, tagged with unit_id (the CUPED
    # covariate). Drawn from the same user effect, so they correlate with in-experiment outcomes.
    pre_period_days: int = 0

    def outcome_probability(self, variant: str) -> float:
        """P(outcome ever happens), so that the in-window share is the arm's planted rate.

        Some outcomes arrive after the attribution window and must not count; the raw rate is
        inflated by exactly that loss so the gate should measure `in_window_probability`.
        """
        within = self.outcome_delay.share_within(self.attribution_window_hours)
        return self.arms[variant].in_window_probability / within


SUPPORT_TEXTS = Texts(
    openers={
        "billing": (
            "I was charged twice for my {plan} subscription this month. Can you refund the duplicate charge?",
            "Why did my invoice {invoice} go up from ${amount} to ${amount2}?",
            "How do I download last month's invoice as a PDF?",
            "Can I switch from monthly to annual billing and keep my discount?",
        ),
        "technical": (
            "The mobile app crashes every time I open the {feature} tab.",
            "I get error {code} when I try to sync my calendar.",
            "CSV exports stopped working after yesterday's update.",
            "How do I reset two-factor authentication on a new phone?",
        ),
        "account": (
            "How do I change the e-mail address on my account?",
            "Please delete my account and all data you hold about me.",
            "I can't log in, the password reset link has expired.",
            "How can I add a teammate to my {plan} workspace?",
        ),
        "other": (
            "Do you have a discount for non-profits?",
            "What are your support hours on weekends?",
            "Where can I give feedback on the new {feature} page?",
        ),
    },
    follow_ups=(
        "That didn't work, I still see the same problem.",
        "Thanks. Does this also apply to my other workspace?",
        "Can I talk to a human agent, please?",
        "OK, I tried that. What should I do next?",
    ),
    answers={
        "billing": (
            "I'm sorry about that. I've flagged invoice {invoice} for a refund of ${amount}; it usually appears within 5-7 business days.",
            "Your {plan} plan renewed with the new seat count, which explains the change. You can see the breakdown under Settings > Billing.",
            "You can download every invoice as a PDF from Settings > Billing > Invoices.",
        ),
        "technical": (
            "Thanks for reporting this. Please update the app to version {version}, which fixes the {feature} crash.",
            "Error {code} means the calendar token expired. Disconnect and reconnect the calendar under Integrations.",
            "Please clear the app cache and try again; if it persists, send us the time it happened.",
        ),
        "account": (
            "You can change your e-mail address under Profile > Account; we'll send a confirmation link to the new address.",
            "I've sent a new password reset link; it is valid for 30 minutes.",
            "Admins can invite teammates from Settings > Members on the {plan} plan.",
        ),
        "other": (
            "Our support team is available 24/7 in chat and on weekdays by phone.",
            "Thanks for the feedback! I've passed it on to the {feature} team.",
        ),
    },
    refusal="I'm sorry, but I can't help with that request.",
)

SALES_TEXTS = Texts(
    openers={
        "web": (
            "Hi, we're a team of {seats} looking at the {plan} plan. Does it include SSO?",
            "Do you offer a free trial of the {plan} plan?",
            "How does your product compare to {competitor} for outbound sales teams?",
        ),
        "email": (
            "Hello, could you send pricing for {seats} seats on an annual {plan} contract?",
            "We need SOC 2 and a DPA before we can buy. Can you share them?",
        ),
        "chat": (
            "hey, is there a discount for {seats} seats?",
            "does the {plan} plan integrate with {competitor}?",
            "can I get a demo this week?",
        ),
    },
    follow_ups=(
        "What about volume discounts?",
        "Can you book a call with an account executive?",
        "Is there a monthly option?",
    ),
    answers={
        "web": (
            "Yes, SSO (SAML and OIDC) is included in {plan}. For {seats} seats the list price is ${amount}/month.",
            "Absolutely: you can try {plan} free for 14 days, no credit card needed.",
        ),
        "email": (
            "Thanks for reaching out! For {seats} seats on an annual {plan} contract the price is ${amount}/month; I've attached our SOC 2 report.",
            "Our DPA and SOC 2 Type II report are available in the trust center; I can send an NDA today.",
        ),
        "chat": (
            "Yes! Teams of {seats} or more get volume pricing. Want me to set up a quick call?",
            "{plan} integrates with {competitor} out of the box. Shall I book a demo?",
        ),
    },
    refusal="I'm not able to make pricing commitments here. Please contact our sales team.",
)

SUPPORT = Scenario(
    experiment_id="support-bot-model-upgrade",
    expected_verdict="promote",
    challenger_share=0.10,
    users=95_000,
    unit_prefix="cust-",
    key_prefix="ZD-",
    key_start=4_810_000,
    segment="query_type",
    segment_weights={"billing": 0.35, "technical": 0.35, "account": 0.20, "other": 0.10},
    outcome="ticket_resolved",
    outcome_source="zendesk",
    attribution_window_hours=72,
    # Zendesk: median 12 h, a few hours to ~2 days, ~2.3 % after the 72 h window.
    outcome_delay=LogNormalDelay(median_hours=12.0, sigma=0.9),
    input_tokens_median=650,
    output_tokens_median=180,
    arms={
        "champion": Arm("helix-m-2026-06", "support-v7", 0.45, 900, 0.01, (0.50, 1.50)),
        "challenger": Arm("helix-m-2026-10", "support-v7", 0.48, 900, 0.01, (0.50, 1.50), 1.05),
    },
    texts=SUPPORT_TEXTS,
    survey_rate=0.25,
    pre_period_days=14,
)

SALES = Scenario(
    experiment_id="sales-assistant-cheaper-model",
    expected_verdict="rollback",
    challenger_share=0.50,
    users=10_000,
    unit_prefix="prospect-",
    key_prefix="lead-",
    key_start=220_000,
    segment="channel",
    segment_weights={"web": 0.50, "email": 0.20, "chat": 0.30},
    outcome="lead_qualified",
    outcome_source="crm",
    attribution_window_hours=48,
    outcome_delay=UniformDelay(low_hours=1.0, high_hours=40.0),  # CRM: 1-40 h, inside 48 h
    input_tokens_median=900,
    output_tokens_median=220,
    arms={
        "champion": Arm("helix-l-2026-06", "sales-v3", 0.22, 1200, 0.01, (2.00, 6.00)),
        "challenger": Arm("helix-s-2026-10", "sales-v3", 0.22, 1500, 0.03, (1.30, 3.90)),
    },
    texts=SALES_TEXTS,
)

SCENARIOS = (SUPPORT, SALES)

# Values for the `{...}` slots of the templates, drawn per request.
TEXT_CHOICES = {
    "plan": ("Starter", "Pro", "Business", "Enterprise"),
    "feature": ("Reports", "Calendar", "Inbox", "Dashboard", "Automations"),
    "code": ("E401", "E503", "SYNC-17", "CAL-042"),
    "competitor": ("Salesforce", "HubSpot", "Pipedrive"),
    "version": ("5.12.1", "5.13.0", "6.0.2"),
}

PII_SENTENCES = {
    "email": "You can reach me at {pii}.",
    "phone": "Please call me back on {pii}.",
    "card": "I paid with card {pii}.",
    "iban": "Please send the refund to IBAN {pii}.",
    "api_key": "Here's my API key in case you need it: {pii}",
}

REQUEST_FIELDS = (
    "request_id",
    "timestamp",
    "experiment_id",
    "variant",
    "unit_id",
    "correlation_key",
    "trace_id",
    "model",
    "prompt_version",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "latency_ms",
    "finish_reason",
    "status",
    "fallback",
    "refusal",
    "schema_valid",
    "prompt",
    "response",
)  # followed by the experiment's segment column
OUTCOME_FIELDS = ("event_id", "correlation_key", "outcome", "value", "timestamp", "source")
PRE_OUTCOME_FIELDS = (*OUTCOME_FIELDS, "unit_id")
# pre-period requests: no trace, no text
PRE_REQUEST_FIELDS = tuple(f for f in REQUEST_FIELDS if f not in ("trace_id", "prompt", "response"))
PRE_KEYS_MEAN = 1.5  # tickets per user in the pre-period
MALFORMED_REQUEST_KINDS = (
    "truncated",
    "not_an_object",
    "missing_unit_id",
    "latency_text",
    "unknown_variant",
    "wrong_date",
)
MALFORMED_OUTCOME_KINDS = (
    "truncated",
    "not_an_object",
    "value_text",
    "missing_correlation_key",
    "wrong_date",
)


@dataclass(frozen=True)
class DayCounts:
    """Lines written for one day, valid and malformed separately."""

    date: str
    inference_valid: int
    inference_malformed: int
    outcome_valid: int
    outcome_malformed: int


@dataclass(frozen=True)
class SimulationSummary:
    """What `simulate()` wrote and the truth it planted; also stored as `_simulation.json`."""

    seed: int
    start: str
    days: int
    scale: float
    malformed_per_day: int
    day_counts: tuple[DayCounts, ...]
    totals: dict[str, int]  # the day counts summed over days
    true_effects: dict[str, dict]  # per experiment: planted effects, verdict, realised counts
    planted_pii: tuple[str, ...]  # raw PII strings present in prompts/responses
    paths: tuple[str, ...]  # data files written, relative to the landing dir

    def to_dict(self) -> dict:
        """Plain JSON-ready dict."""
        return json.loads(json.dumps(asdict(self)))


@dataclass
class _Traffic:
    """Requests and outcome events of one experiment, times in epoch milliseconds."""

    requests: pd.DataFrame
    outcomes: pd.DataFrame
    realised: dict[str, dict[str, float]]  # per variant: users, keys, requests, mean cost
    pre_outcomes: pd.DataFrame  # pre-period events with unit_id (empty without a pre-period)
    pre_requests: pd.DataFrame  # the champion's requests of the pre-period tickets (same)


def simulate(
    landing_dir: Path,
    *,
    seed: int = 20261101,
    start: date = date(2026, 11, 1),
    days: int = 14,
    scale: float = 1.0,
    malformed_per_day: int = 3,
) -> SimulationSummary:
    """Write `days` days of demo landing files under `landing_dir` and return what was planted.

    Files written by an earlier run (listed in its `_simulation.json`) and the part files of the
    simulated days are removed first, so re-running never duplicates data. Outcomes that would
    arrive after the last simulated day are dropped, as if reality were cut off there.
    """
    landing_dir = Path(landing_dir)
    experiment_rng, id_rng, text_rng, malformed_rng = np.random.default_rng(seed).spawn(4)
    traffic = {
        s.experiment_id: _simulate_experiment(s, rng, start, days, scale)
        for s, rng in zip(SCENARIOS, experiment_rng.spawn(len(SCENARIOS)), strict=True)
    }
    requests = _assign_request_ids(
        pd.concat([t.requests for t in traffic.values()], ignore_index=True), id_rng
    )
    requests, planted = _render_texts(requests, text_rng, _pii_pool(text_rng))
    outcomes = _assign_event_ids(
        pd.concat([t.outcomes for t in traffic.values()], ignore_index=True)
    )

    start_ms = _epoch_ms(start)
    request_lines = _split_by_day(_request_lines(requests), requests["ts"], start_ms, days)
    outcome_lines = _split_by_day(_outcome_lines(outcomes), outcomes["ts"], start_ms, days)
    day_dates = [start + timedelta(days=d) for d in range(days)]
    pre_dates = [start - timedelta(days=d) for d in range(max_pre_period_days(), 0, -1)]
    landing_dir.mkdir(parents=True, exist_ok=True)
    _remove_previous_files(landing_dir, [*pre_dates, *day_dates])
    day_counts, paths = [], []
    for d, day in enumerate(day_dates):
        bad_requests = _malformed_requests(
            requests, malformed_rng, d, start_ms, malformed_per_day, len(requests)
        )
        bad_outcomes = _malformed_outcomes(
            outcomes, malformed_rng, d, start_ms, malformed_per_day, len(outcomes)
        )
        paths.append(
            _write_part(
                landing_dir, INFERENCE_DIR, day, request_lines[d], bad_requests, malformed_rng
            )
        )
        paths.append(
            _write_part(
                landing_dir, OUTCOMES_DIR, day, outcome_lines[d], bad_outcomes, malformed_rng
            )
        )
        day_counts.append(
            DayCounts(
                date=day.isoformat(),
                inference_valid=len(request_lines[d]),
                inference_malformed=len(bad_requests),
                outcome_valid=len(outcome_lines[d]),
                outcome_malformed=len(bad_outcomes),
            )
        )

    pre_counts, pre_paths = _write_pre_period(
        landing_dir,
        [t.pre_outcomes for t in traffic.values() if len(t.pre_outcomes)],
        [t.pre_requests for t in traffic.values() if len(t.pre_requests)],
        start,
    )
    day_counts = [*pre_counts, *day_counts]
    paths = [*pre_paths, *paths]

    summary = SimulationSummary(
        seed=seed,
        start=start.isoformat(),
        days=days,
        scale=scale,
        malformed_per_day=malformed_per_day,
        day_counts=tuple(day_counts),
        totals={
            name: sum(getattr(day, name) for day in day_counts)
            for name in (
                "inference_valid",
                "inference_malformed",
                "outcome_valid",
                "outcome_malformed",
            )
        },
        true_effects={s.experiment_id: _truth(s, traffic[s.experiment_id]) for s in SCENARIOS},
        planted_pii=tuple(sorted(planted)),
        paths=tuple(paths),
    )
    (landing_dir / SUMMARY_FILE).write_text(
        json.dumps(summary.to_dict(), indent=2) + "\n", encoding="utf-8"
    )
    return summary


# --- traffic ---------------------------------------------------------------------------------


def max_pre_period_days() -> int:
    """How many days of pre-period history the demo writes before the start."""
    return max(s.pre_period_days for s in SCENARIOS)


def _write_pre_period(
    landing_dir: Path,
    outcome_frames: list[pd.DataFrame],
    request_frames: list[pd.DataFrame],
    start: date,
) -> tuple[list[DayCounts], list[str]]:
    """Write the pre-period outcome events and requests, one part file each per day before the
    start. The requests carry no prompt text (the pre-period is there for its numbers)."""
    if not outcome_frames:
        return [], []
    events = pd.concat(outcome_frames, ignore_index=True).sort_values(
        "ts", kind="stable", ignore_index=True
    )
    events.insert(0, "event_id", [f"evt-pre-{i:08d}" for i in range(len(events))])
    columns = {
        name: _json_timestamps(events["ts"]) if name == "timestamp" else _json_tokens(events[name])
        for name in PRE_OUTCOME_FIELDS
    }
    requests = pd.concat(request_frames, ignore_index=True).sort_values(
        "ts", kind="stable", ignore_index=True
    )
    requests.insert(0, "request_id", [f"req-pre-{i:08d}" for i in range(len(requests))])
    written = {
        INFERENCE_DIR: (_request_lines(requests, PRE_REQUEST_FIELDS), requests["ts"]),
        OUTCOMES_DIR: (_json_lines(columns), events["ts"]),
    }
    counts, paths = [], []
    for back in range(max_pre_period_days(), 0, -1):
        day = start - timedelta(days=back)
        day_ms = _epoch_ms(day)
        n_lines = {}
        for kind, (lines, ts) in written.items():
            in_day = ((ts >= day_ms) & (ts < day_ms + DAY_MS)).to_numpy()
            day_lines = [line for line, keep in zip(lines, in_day, strict=True) if keep]
            path = _part_path(landing_dir, kind, day)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(line + "\n" for line in day_lines), encoding="utf-8")
            paths.append(path.relative_to(landing_dir).as_posix())
            n_lines[kind] = len(day_lines)
        counts.append(
            DayCounts(day.isoformat(), n_lines[INFERENCE_DIR], 0, n_lines[OUTCOMES_DIR], 0)
        )
    return counts, paths


def _epoch_ms(day: date) -> int:
    """Milliseconds since the Unix epoch at 00:00 UTC of `day`."""
    return (day - date(1970, 1, 1)).days * DAY_MS


def _simulate_experiment(
    s: Scenario, rng: np.random.Generator, start: date, days: int, scale: float
) -> _Traffic:
    """Users -> tickets/conversations -> requests and outcome events of one experiment."""
    end_ms = _epoch_ms(start) + days * DAY_MS
    n_users = max(2, round(s.users * scale))
    arrival = _arrival_times(rng, n_users, start, days)
    is_challenger = rng.random(n_users) < s.challenger_share
    user_effect = rng.standard_normal(n_users)

    keys = _keys(rng, s, arrival, is_challenger, user_effect, end_ms)
    requests = _requests(rng, s, keys, end_ms)
    outcomes = _outcomes(rng, s, keys, requests, end_ms)
    realised = {
        v: {
            "users": int(np.sum(is_challenger == (v == "challenger"))),
            "keys": int(np.sum(keys["variant"] == v)),
            "requests": int(np.sum(requests["variant"] == v)),
            "mean_cost_usd": round(
                float(requests.loc[requests["variant"] == v, "cost_usd"].mean()), 7
            ),
        }
        for v in VARIANTS
    }
    pre_outcomes, pre_requests = _pre_period(rng, s, user_effect, _epoch_ms(start))
    return _Traffic(
        requests.drop(columns=["key_index"]), outcomes, realised, pre_outcomes, pre_requests
    )


def _pre_period(
    rng: np.random.Generator, s: Scenario, user_effect: np.ndarray, start_ms: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each user's tickets in the days before the start, served by the champion (the flag
    already logged, before the split began) with the same user effect: the resolved ones as
    events that name the unit, and all their requests. What CUPED uses as the pre-period
    covariate (the requests for a ratio such as cost per resolution)."""
    if s.pre_period_days == 0:
        return pd.DataFrame(), pd.DataFrame()
    per_user = rng.poisson(PRE_KEYS_MEAN, len(user_effect))
    user = np.repeat(np.arange(len(user_effect)), per_user)
    intercept = ndtri(s.outcome_probability("champion")) * math.sqrt(1 + USER_EFFECT_SD**2)
    happened = rng.random(len(user)) < ndtr(intercept + USER_EFFECT_SD * user_effect[user])
    span = s.pre_period_days * DAY_MS
    ts = start_ms - span + (rng.random(len(user)) * (span - MINUTE_MS)).astype(np.int64)
    events = pd.DataFrame(
        {
            "correlation_key": [f"{s.key_prefix}pre-{i}" for i in range(len(user))],
            "outcome": s.outcome,
            "value": 1,
            "ts": ts,
            "source": s.outcome_source,
            "unit_id": [f"{s.unit_prefix}{u:06d}" for u in user.tolist()],
        }
    )[happened]
    segments = np.array(list(s.segment_weights))
    weights = np.array(list(s.segment_weights.values()))
    keys = pd.DataFrame(
        {
            "user": user,
            "variant": "champion",
            "ts": ts,
            "segment": segments[rng.choice(len(segments), size=len(user), p=weights)],
            "correlation_key": [f"{s.key_prefix}pre-{i}" for i in range(len(user))],
        }
    )
    requests = _requests(rng, s, keys, start_ms).drop(columns=["key_index"])
    return events.sort_values(["ts", "unit_id"], kind="stable", ignore_index=True), requests


def _arrival_times(rng: np.random.Generator, n: int, start: date, days: int) -> np.ndarray:
    """First-request times of new users: quieter weekends and nights."""
    day_weights = np.array(
        [WEEKEND_WEIGHT if (start + timedelta(days=d)).weekday() >= 5 else 1.0 for d in range(days)]
    )
    day = rng.choice(days, size=n, p=day_weights / day_weights.sum())
    hour = rng.choice(24, size=n, p=HOURLY_WEIGHTS / HOURLY_WEIGHTS.sum())
    within_hour = rng.integers(0, HOUR_MS, size=n)
    return _epoch_ms(start) + day * DAY_MS + hour * HOUR_MS + within_hour


def _keys(
    rng: np.random.Generator,
    s: Scenario,
    arrival: np.ndarray,
    is_challenger: np.ndarray,
    user_effect: np.ndarray,
    end_ms: int,
) -> pd.DataFrame:
    """Tickets/conversations: each user's first at arrival, later ones within the next week.

    Whether the outcome happens is drawn per key from the user's own probability
    Phi(a_variant + sd * z_user), with a_variant set so that the average over users is exactly
    the arm's outcome probability (for a probit-normal, E[Phi(a + sd Z)] = Phi(a / sqrt(1+sd^2))).
    """
    n_users = len(arrival)
    per_user = 1 + rng.poisson(EXTRA_KEYS_MEAN, n_users)
    user = np.repeat(np.arange(n_users), per_user)
    is_first = np.zeros(len(user), dtype=bool)
    is_first[np.cumsum(per_user) - per_user] = True
    room = np.minimum(EXTRA_KEYS_SPREAD_MS, end_ms - arrival[user] - MINUTE_MS)
    offset = np.where(is_first, 0, (rng.uniform(0.02, 1.0, len(user)) * room).astype(np.int64))
    keep = is_first | (room > 0)
    user, ts = user[keep], (arrival[user] + offset)[keep]

    intercept = {
        v: ndtri(s.outcome_probability(v)) * math.sqrt(1 + USER_EFFECT_SD**2) for v in VARIANTS
    }
    challenger = is_challenger[user]
    p_key = ndtr(
        np.where(challenger, intercept["challenger"], intercept["champion"])
        + USER_EFFECT_SD * user_effect[user]
    )
    segments = np.array(list(s.segment_weights))
    weights = np.array(list(s.segment_weights.values()))
    keys = pd.DataFrame(
        {
            "user": user,
            "variant": np.where(challenger, "challenger", "champion"),
            "ts": ts,
            "segment": segments[rng.choice(len(segments), size=len(user), p=weights)],
            "happened": rng.random(len(user)) < p_key,
        }
    )
    keys = keys.sort_values(["ts", "user"], kind="stable", ignore_index=True)
    keys["correlation_key"] = [f"{s.key_prefix}{s.key_start + i}" for i in range(len(keys))]
    return keys


def _requests(
    rng: np.random.Generator, s: Scenario, keys: pd.DataFrame, end_ms: int
) -> pd.DataFrame:
    """1-5 requests per key, a minute or two apart, with per-arm latency, tokens, cost, refusals.

    Requests that would fall after the simulated period are cut off.
    """
    per_key = rng.choice(len(REQUESTS_PER_KEY_P), size=len(keys), p=REQUESTS_PER_KEY_P) + 1
    key_index = np.repeat(np.arange(len(keys)), per_key)
    group_start = np.repeat(np.cumsum(per_key) - per_key, per_key)
    position = np.arange(len(key_index)) - group_start
    gap = np.where(
        position == 0, 0, 20 * SECOND_MS + rng.exponential(90 * SECOND_MS, len(key_index))
    )
    elapsed = np.cumsum(gap)
    ts = keys["ts"].to_numpy()[key_index] + (elapsed - elapsed[group_start]).astype(np.int64)
    keep = ts < end_ms
    key_index, position, ts = key_index[keep], position[keep], ts[keep]
    n = len(key_index)

    challenger = keys["variant"].to_numpy()[key_index] == "challenger"
    champ, chall = s.arms["champion"], s.arms["challenger"]

    def per_arm(champion_value, challenger_value) -> np.ndarray:
        return np.where(challenger, challenger_value, champion_value)

    latency = per_arm(champ.latency_median_ms, chall.latency_median_ms) * np.exp(
        LATENCY_SIGMA * rng.standard_normal(n)
    )
    input_tokens = (
        np.round(s.input_tokens_median * np.exp(INPUT_TOKENS_SIGMA * rng.standard_normal(n)))
        + HISTORY_TOKENS_PER_TURN * position
    )
    wanted_output = np.round(
        s.output_tokens_median
        * per_arm(champ.output_token_factor, chall.output_token_factor)
        * np.exp(OUTPUT_TOKENS_SIGMA * rng.standard_normal(n))
    )
    error = rng.random(n) < ERROR_RATE
    refusal = (rng.random(n) < per_arm(champ.refusal_rate, chall.refusal_rate)) & ~error
    schema_valid = rng.random(n) < SCHEMA_VALID_RATE
    output_tokens = np.where(error, 0, np.minimum(wanted_output, MAX_OUTPUT_TOKENS))
    price_in = per_arm(champ.price_per_mtok[0], chall.price_per_mtok[0])
    price_out = per_arm(champ.price_per_mtok[1], chall.price_per_mtok[1])
    cost = np.round((input_tokens * price_in + output_tokens * price_out) / 1e6, 7)
    user = keys["user"].to_numpy()[key_index]

    return pd.DataFrame(
        {
            "key_index": key_index,
            "ts": ts,
            "experiment_id": s.experiment_id,
            "variant": per_arm("champion", "challenger"),
            "unit_id": [f"{s.unit_prefix}{u:06d}" for u in user.tolist()],
            "correlation_key": keys["correlation_key"].to_numpy()[key_index],
            "model": per_arm(champ.model, chall.model),
            "prompt_version": per_arm(champ.prompt_version, chall.prompt_version),
            "input_tokens": input_tokens.astype(np.int64),
            "output_tokens": output_tokens.astype(np.int64),
            "cost_usd": np.where(error, 0.0, cost),  # failed calls are not billed
            "latency_ms": np.maximum(1, np.round(latency)).astype(np.int64),
            "finish_reason": np.where(
                error, "error", np.where(wanted_output > MAX_OUTPUT_TOKENS, "length", "stop")
            ),
            "status": np.where(error, "error", "ok"),
            "fallback": error,
            "refusal": refusal,
            "schema_valid": schema_valid,
            "segment_name": s.segment,
            "segment": keys["segment"].to_numpy()[key_index],
            "position": position,
        }
    )


def _outcomes(
    rng: np.random.Generator, s: Scenario, keys: pd.DataFrame, requests: pd.DataFrame, end_ms: int
) -> pd.DataFrame:
    """Outcome events (only when the outcome happened), plus CSAT answers for surveyed tickets.

    An outcome never precedes its key's last request; events arriving after the simulated
    period are dropped.
    """
    last_request = np.zeros(len(keys), dtype=np.int64)
    np.maximum.at(last_request, requests["key_index"].to_numpy(), requests["ts"].to_numpy())
    delay = (s.outcome_delay.sample(rng, len(keys)) * HOUR_MS).astype(np.int64)
    outcome_ts = np.maximum(keys["ts"].to_numpy() + delay, last_request + 5 * MINUTE_MS)
    happened = keys["happened"].to_numpy()
    frames = [
        pd.DataFrame(
            {
                "correlation_key": keys["correlation_key"].to_numpy()[happened],
                "outcome": s.outcome,
                "value": 1,
                "ts": outcome_ts[happened],
                "source": s.outcome_source,
            }
        )
    ]
    if s.survey_rate > 0:
        frames.append(_csat(rng, s, keys, np.where(happened, outcome_ts, last_request)))
    events = pd.concat(frames, ignore_index=True)
    return events[events["ts"] < end_ms].reset_index(drop=True)


def _csat(
    rng: np.random.Generator, s: Scenario, keys: pd.DataFrame, closed_ts: np.ndarray
) -> pd.DataFrame:
    """1-5 survey scores for a share of tickets, higher when the ticket was resolved."""
    surveyed = rng.random(len(keys)) < s.survey_rate
    happened = keys["happened"].to_numpy()
    if_resolved = rng.choice(5, size=len(keys), p=[0.03, 0.05, 0.12, 0.35, 0.45]) + 1
    if_unresolved = rng.choice(5, size=len(keys), p=[0.25, 0.25, 0.25, 0.15, 0.10]) + 1
    answered = closed_ts + (rng.uniform(0.5, 24.0, len(keys)) * HOUR_MS).astype(np.int64)
    return pd.DataFrame(
        {
            "correlation_key": keys["correlation_key"].to_numpy()[surveyed],
            "outcome": "csat",
            "value": np.where(happened, if_resolved, if_unresolved)[surveyed],
            "ts": answered[surveyed],
            "source": "survey",
        }
    )


def _truth(s: Scenario, traffic: _Traffic) -> dict:
    """The planted effects per variant, in the units the gate reports, plus realised counts."""
    variants = {}
    for v in VARIANTS:
        arm = s.arms[v]
        variants[v] = {
            "model": arm.model,
            "prompt_version": arm.prompt_version,
            f"{s.outcome}_rate": arm.in_window_probability,
            f"{s.outcome}_rate_incl_late": round(s.outcome_probability(v), 6),
            "latency_median_ms": arm.latency_median_ms,
            "latency_p95_ms": round(
                arm.latency_median_ms * math.exp(ndtri(0.95) * LATENCY_SIGMA), 1
            ),
            "refusal_rate": arm.refusal_rate,
            "schema_valid_rate": SCHEMA_VALID_RATE,
            "price_per_mtok_usd": list(arm.price_per_mtok),
            "output_token_factor": arm.output_token_factor,
            **traffic.realised[v],
        }
    return {
        "expected_verdict": s.expected_verdict,
        "segment": s.segment,
        "attribution_window_hours": s.attribution_window_hours,
        "challenger_share": s.challenger_share,
        "csat_survey_rate": s.survey_rate,
        "variants": variants,
    }


# --- ids and texts ---------------------------------------------------------------------------


def _assign_request_ids(requests: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Order all requests by time; sequential request ids, random 128-bit trace ids."""
    requests = requests.sort_values("ts", kind="stable", ignore_index=True)
    n = len(requests)
    trace_hex = rng.bytes(16 * n).hex()
    requests.insert(0, "request_id", [f"req-{i:08d}" for i in range(n)])
    requests["trace_id"] = [trace_hex[32 * i : 32 * (i + 1)] for i in range(n)]
    return requests


def _assign_event_ids(outcomes: pd.DataFrame) -> pd.DataFrame:
    """Order all outcome events by time; sequential event ids."""
    outcomes = outcomes.sort_values("ts", kind="stable", ignore_index=True)
    outcomes.insert(0, "event_id", [f"evt-{i:08d}" for i in range(len(outcomes))])
    return outcomes


def _pii_pool(rng: np.random.Generator) -> dict[str, list[str]]:
    """A small pool of fake-but-valid-looking PII per kind (the redactor must catch each kind)."""
    first = ["maria", "jonas", "aisha", "li", "pedro", "emma", "tom", "sofia"]
    last = ["keller", "nguyen", "okafor", "schmidt", "garcia", "rossi", "dubois", "smith"]
    domains = ["example.com", "mail.example.org", "example.net"]
    emails = [
        f"{first[i]}.{last[rng.integers(len(last))]}{rng.integers(10, 99)}@{domains[i % 3]}"
        for i in range(6)
    ]
    phones = [
        f"+1 415 555 {rng.integers(100, 199):04d}",
        f"+44 20 7946 {rng.integers(0, 999):04d}",
        f"(212) 555-{rng.integers(100, 199):04d}",
        f"+49 30 {rng.integers(1000000, 9999999)}",
    ]
    cards = [
        _format_card(_luhn_complete("4" + _digits(rng, 14)), sep) for sep in ("", " ", "-", " ")
    ]
    ibans = [
        _iban("DE", _digits(rng, 18), grouped=True),
        _iban("DE", _digits(rng, 18), grouped=False),
        _iban("GB", "NWBK" + _digits(rng, 14), grouped=True),
        _iban("FR", _digits(rng, 23), grouped=False),
    ]
    alphabet = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"))
    keys = ["sk-" + "".join(rng.choice(alphabet, 48)) for _ in range(3)]
    return {"email": emails, "phone": phones, "card": cards, "iban": ibans, "api_key": keys}


def _digits(rng: np.random.Generator, n: int) -> str:
    return "".join(str(d) for d in rng.integers(0, 10, n))


def _luhn_complete(payload: str) -> str:
    """Append the Luhn check digit, so card detectors that verify checksums fire."""
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return payload + str((10 - total % 10) % 10)


def _format_card(number: str, sep: str) -> str:
    return sep.join(number[i : i + 4] for i in range(0, 16, 4))


def _iban(country: str, bban: str, *, grouped: bool) -> str:
    """An IBAN with correct ISO 13616 mod-97 check digits."""
    rearranged = bban + country + "00"
    numeric = "".join(str(int(c, 36)) for c in rearranged)
    iban = f"{country}{98 - int(numeric) % 97:02d}{bban}"
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4)) if grouped else iban


def _render_texts(
    requests: pd.DataFrame, rng: np.random.Generator, pii_pool: dict[str, list[str]]
) -> tuple[pd.DataFrame, set[str]]:
    """Fill prompt/response templates per request and plant PII in a small share of them."""
    n = len(requests)
    slots = {
        name: np.array(values)[rng.integers(0, len(values), n)].tolist()
        for name, values in TEXT_CHOICES.items()
    }
    amount = rng.integers(19, 400, n)
    slots["amount"] = amount.tolist()
    slots["amount2"] = (amount + rng.integers(5, 120, n)).tolist()
    slots["seats"] = rng.integers(5, 250, n).tolist()
    slots["invoice"] = [f"INV-{i}" for i in rng.integers(100_000, 999_999, n).tolist()]

    prompt_templates = _pick_templates(requests, rng, opener=True)
    answer_templates = _pick_templates(requests, rng, opener=False)
    prompts = _fill(prompt_templates, slots)
    responses = _fill(answer_templates, slots)

    answered = (requests["status"] == "ok").to_numpy() & ~requests["refusal"].to_numpy()
    pii_kind = np.array(list(PII_SENTENCES))[rng.integers(0, len(PII_SENTENCES), n)]
    pii_pick = rng.random(n)
    planted = set()
    for i in np.flatnonzero(rng.random(n) < PII_PROMPT_RATE).tolist():
        pii = _choose(pii_pool[pii_kind[i]], pii_pick[i])
        prompts[i] = f"{prompts[i]} {PII_SENTENCES[pii_kind[i]].format(pii=pii)}"
        planted.add(pii)
    contacts = pii_pool["email"] + pii_pool["phone"]
    for i in np.flatnonzero((rng.random(n) < PII_RESPONSE_RATE) & answered).tolist():
        pii = _choose(contacts, pii_pick[i])
        responses[i] = f"{responses[i]} I've noted {pii} as your contact."
        planted.add(pii)
    return requests.assign(prompt=prompts, response=responses), planted


def _pick_templates(
    requests: pd.DataFrame, rng: np.random.Generator, *, opener: bool
) -> np.ndarray:
    """One template per request: openers/follow-ups for prompts; answers/refusal/fallback after.

    Templates are chosen per (experiment, segment) group, so this stays vectorised.
    """
    chosen = np.empty(len(requests), dtype=object)
    u = rng.random(len(requests))
    position = requests["position"].to_numpy()
    groups = requests.groupby(["experiment_id", "segment"], sort=True).indices
    banks = {s.experiment_id: s.texts for s in SCENARIOS}
    for (experiment_id, segment), rows in groups.items():
        bank = banks[experiment_id]
        if opener:
            first = position[rows] == 0
            pools = [(rows[first], bank.openers[segment]), (rows[~first], bank.follow_ups)]
        else:
            pools = [(rows, bank.answers[segment])]
        for idx, pool in pools:
            chosen[idx] = np.array(pool, dtype=object)[(u[idx] * len(pool)).astype(int)]
    if not opener:
        banks_per_row = [banks[e] for e in requests["experiment_id"].tolist()]
        refusal = requests["refusal"].to_numpy()
        error = (requests["status"] == "error").to_numpy()
        chosen[refusal] = [b.refusal for b, r in zip(banks_per_row, refusal, strict=True) if r]
        chosen[error] = [b.fallback for b, e in zip(banks_per_row, error, strict=True) if e]
    return chosen


def _fill(templates: np.ndarray, slots: dict[str, list]) -> list[str]:
    """Format each template with its row's slot values (templates ignore slots they lack).

    Each distinct template is first rewritten to positional fields (`{plan}` -> `{0}`), so
    the per-row work is one `str.format(*values)` call.
    """
    as_positional = {name: f"{{{k}}}" for k, name in enumerate(slots)}
    positional = {t: t.format(**as_positional) for t in set(templates.tolist())}
    return [
        positional[template].format(*values)
        for template, *values in zip(templates.tolist(), *slots.values(), strict=True)
    ]


def _choose(values: Sequence[str], u: float) -> str:
    return values[int(u * len(values))]


# --- JSON lines ------------------------------------------------------------------------------


def _iso(ts_ms: np.ndarray | pd.Series) -> list[str]:
    """ISO-8601 UTC with milliseconds and a `Z`, e.g. 2026-11-01T08:15:42.123Z."""
    text = np.datetime_as_string(np.asarray(ts_ms).astype("datetime64[ms]"), unit="ms")
    return [t + "Z" for t in text.tolist()]


def _json_timestamps(ts_ms: pd.Series) -> list[str]:
    """`_iso` timestamps as JSON strings (they need no escaping)."""
    return [f'"{t}"' for t in _iso(ts_ms)]


def _json_tokens(column: pd.Series) -> list[str]:
    """A column's values already JSON-encoded, exactly as `json.dumps` would write them."""
    if column.dtype == bool:
        return np.where(column.to_numpy(), "true", "false").tolist()
    if column.dtype.kind == "i":
        return list(map(str, column.tolist()))
    if column.dtype.kind == "f":
        return list(map(repr, column.tolist()))
    return list(map(encode_basestring, column.tolist()))


def _json_lines(columns: dict[str, list[str]], tail: list[str] | None = None) -> list[str]:
    """One compact JSON object per row from pre-encoded columns, in the columns' order.

    `tail` holds ready `"key":value` pairs appended last (a per-row segment column). This is
    several times faster than `json.dumps` per row and writes the same bytes.
    """
    template = ",".join(f"{encode_basestring(name)}:%s" for name in columns)
    rows = zip(*columns.values(), strict=True)
    if tail is None:
        return [f"{{{template % row}}}" for row in rows]
    return [f"{{{template % row},{extra}}}" for row, extra in zip(rows, tail, strict=True)]


def _request_lines(requests: pd.DataFrame, fields: Sequence[str] = REQUEST_FIELDS) -> list[str]:
    """Inference-log lines in contract order, each ending with its experiment's segment column."""
    columns = {
        name: _json_timestamps(requests["ts"])
        if name == "timestamp"
        else _json_tokens(requests[name])
        for name in fields
    }
    names, values = _json_tokens(requests["segment_name"]), _json_tokens(requests["segment"])
    segment_pairs = [f"{name}:{value}" for name, value in zip(names, values, strict=True)]
    return _json_lines(columns, segment_pairs)


def _outcome_lines(outcomes: pd.DataFrame) -> list[str]:
    """Outcome-event lines in contract order."""
    columns = {
        name: _json_timestamps(outcomes["ts"])
        if name == "timestamp"
        else _json_tokens(outcomes[name])
        for name in OUTCOME_FIELDS
    }
    return _json_lines(columns)


def _split_by_day(lines: list[str], ts: pd.Series, start_ms: int, days: int) -> list[list[str]]:
    """Lines (already in time order) cut into one list per day of their timestamp."""
    bounds = np.searchsorted(ts.to_numpy(), start_ms + DAY_MS * np.arange(days + 1))
    return [lines[bounds[d] : bounds[d + 1]] for d in range(days)]


# --- malformed lines -------------------------------------------------------------------------


def _record(frame: pd.DataFrame, i: int, fields: Sequence[str]) -> dict:
    """Row `i` as a plain dict of contract fields (timestamp from `ts`)."""
    record = {}
    for name in fields:
        value = _iso(frame["ts"].iloc[[i]])[0] if name == "timestamp" else frame[name].iat[i]
        record[name] = value.item() if isinstance(value, np.generic) else value
    return record


def _malformed_requests(
    requests: pd.DataFrame,
    rng: np.random.Generator,
    day: int,
    start_ms: int,
    count: int,
    ids_from: int,
) -> list[str]:
    """`count` bad inference lines for day `day`, cycling through the kinds an ingester rejects.

    Each is a copy of a real request (new request id, moved to this day) broken one way.
    """
    lines = []
    for j in range(count):
        i = int(rng.integers(len(requests)))
        record = _record(requests, i, REQUEST_FIELDS)
        record[requests["segment_name"].iat[i]] = requests["segment"].iat[i]
        record["request_id"] = f"req-{ids_from + day * count + j:08d}"
        kind = MALFORMED_REQUEST_KINDS[(day * count + j) % len(MALFORMED_REQUEST_KINDS)]
        lines.append(
            _corrupt(record, kind, start_ms + day * DAY_MS, "unit_id", "latency_ms", "fast")
        )
    return lines


def _malformed_outcomes(
    outcomes: pd.DataFrame,
    rng: np.random.Generator,
    day: int,
    start_ms: int,
    count: int,
    ids_from: int,
) -> list[str]:
    """`count` bad outcome lines for day `day`, cycling through the kinds an ingester rejects."""
    lines = []
    for j in range(count):
        if outcomes.empty:  # tiny scales: nothing to copy, break a stub instead
            record = dict.fromkeys(OUTCOME_FIELDS, "")
        else:
            record = _record(outcomes, int(rng.integers(len(outcomes))), OUTCOME_FIELDS)
        record["event_id"] = f"evt-{ids_from + day * count + j:08d}"
        kind = MALFORMED_OUTCOME_KINDS[(day * count + j) % len(MALFORMED_OUTCOME_KINDS)]
        lines.append(
            _corrupt(record, kind, start_ms + day * DAY_MS, "correlation_key", "value", "resolved")
        )
    return lines


def _corrupt(record: dict, kind: str, day_ms: int, required: str, numeric: str, text: str) -> str:
    """Serialise `record`, timestamped inside its folder's day, broken the way `kind` names."""
    record["timestamp"] = _iso(np.array([day_ms + 13 * HOUR_MS]))[0]
    if kind == "wrong_date":
        record["timestamp"] = _iso(np.array([day_ms - 11 * HOUR_MS]))[0]
    elif kind.startswith("missing_"):
        del record[required]
    elif kind in ("latency_text", "value_text"):
        record[numeric] = text
    elif kind == "unknown_variant":
        record["variant"] = "challenger-2"
    line = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    if kind == "truncated":
        return line[: len(line) // 2]
    if kind == "not_an_object":
        return json.dumps(list(record.values()), ensure_ascii=False, separators=(",", ":"))
    return line


# --- files -----------------------------------------------------------------------------------


def _part_path(landing_dir: Path, kind: str, day: date) -> Path:
    return landing_dir / kind / day.isoformat() / PART_FILE


def _remove_previous_files(landing_dir: Path, day_dates: Sequence[date]) -> None:
    """Delete what an earlier simulation wrote, so a re-run replaces instead of duplicating.

    That is every part file listed in the previous `_simulation.json` (other days included) and
    the part file of each day about to be written; other files in the landing dir stay.
    """
    stale = [
        _part_path(landing_dir, kind, d)
        for d in day_dates
        for kind in (INFERENCE_DIR, OUTCOMES_DIR)
    ]
    previous = landing_dir / SUMMARY_FILE
    if previous.exists():
        listed = map(Path, json.loads(previous.read_text(encoding="utf-8")).get("paths", []))
        stale += [landing_dir / p for p in listed if p.name == PART_FILE and ".." not in p.parts]
        previous.unlink()
    for path in stale:
        path.unlink(missing_ok=True)
        if path.parent.is_dir() and not any(path.parent.iterdir()):
            path.parent.rmdir()


def _write_part(
    landing_dir: Path,
    kind: str,
    day: date,
    valid: list[str],
    malformed: list[str],
    rng: np.random.Generator,
) -> str:
    """Write one day's part file with the malformed lines scattered among the valid ones."""
    lines = list(valid)
    positions = rng.integers(0, len(valid) + 1, len(malformed)).tolist()
    for at, line in sorted(zip(positions, malformed, strict=True), reverse=True):
        lines.insert(at, line)  # back to front, so each position still indexes `valid`
    path = _part_path(landing_dir, kind, day)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path.relative_to(landing_dir).as_posix()
