"""PII and secret redaction applied to free text before anything is persisted.

Prompts and responses of LLM inference logs carry whatever users typed: e-mail addresses,
phone numbers, card numbers, bank accounts, national ids and, often, pasted credentials. abgate
never stores them. Each match is replaced by a keyed-hash token ``[KIND:<12 hex>]``, the first
12 hex characters of HMAC-SHA256(key, normalized value). The same value under the same key always
gives the same token, so redacted columns still join, group and count (how many distinct cards
did a variant see?), but nobody without the key can brute-force a phone number back from it.

Kinds, in the order they are applied, and the normalization hashed for each (so equal values
in different spellings share one token):

- ``JWT``: ``eyJ<header>.<payload>.<signature>``. As written.
- ``API_KEY``: OpenAI-style ``sk-...`` / ``sk-proj-...`` (also ``sk-ant-...``), 20+ characters
  with a digit. As written.
- ``AWS_KEY``: AWS access key ids ``AKIA...`` / ``ASIA...``. As written.
- ``GITHUB_TOKEN``: ``ghp_ gho_ ghu_ ghs_ ghr_`` tokens and ``github_pat_...``. As written.
- ``SLACK_TOKEN``: ``xoxb- xoxa- xoxp- xoxr- xoxs-`` tokens. As written.
- ``BEARER``: the credential after ``Bearer`` (``Authorization: Bearer <token>``), 16+
  characters with a digit; the word ``Bearer`` stays. As written.
- ``EMAIL``: ``local@domain.tld``. Lowercased.
- ``IBAN``: ISO 13616, a registered country code with exactly that country's length, grouped by
  four or not, any case, mod-97 valid. Uppercase without spaces.
- ``CARD``: 13-19 digits starting 2-6, contiguous or grouped 4-4-4-4 (last group 1-4) /
  4-6-5 (or 4-6-4) by spaces or dashes, Luhn valid. Digits only.
- ``SSN``: US Social Security number, dashed ``ddd-dd-dddd`` only, ranges the SSA never issues
  excluded. Digits only.
- ``NINO``: UK National Insurance number ``AB123456C`` / ``AB 12 34 56 C``, uppercase as issued,
  HMRC's invalid prefixes excluded. Uppercase without spaces.
- ``PHONE``: international ``+CC ...`` with 8-15 digits (``+44 (0)20 ...`` too); North American
  ``(555) 123-4567`` / ``555-123-4567`` / ``1-800-555-0199``; European national numbers with a
  trunk ``0`` in groups (``030 1234567``, ``01 23 45 67 89``, ``(020) 7946 0958``), 9-13
  digits. Digits only (``(0)`` dropped), so the country code is part of the value:
  ``+1 555 123 4567`` and ``(555) 123-4567`` get different tokens.

Patterns run in that order: secrets first so that no digit run inside a JWT or key is taken for a
phone or card; e-mail before phone so ``john+4420...@x.com`` stays one address; IBAN before card
so its account digits are not read as a card; card before phone. Plain numbers survive on
purpose: order ids, years, ISO timestamps, UUIDs, trace ids, prices and token counts have no
separator pattern, trunk prefix or checksum that makes them look like PII. No pattern can match
inside a token, and passes repeat until one changes nothing, so redaction is idempotent.

Known limits, by design: SSNs only with dashes; NINOs only in capitals; a phone number glued
to further digit groups past 15 (international) or 13 (national) digits is left alone rather
than guessed at; names and postal addresses are not detected.
"""

from __future__ import annotations

import hmac
import os
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from duckdb.func import ARROW, SPECIAL
from duckdb.sqltypes import VARCHAR

REDACTION_KEY_ENV = "ABGATE_REDACTION_KEY"
TOKEN_HEX_CHARS = 12

_NOT_DIGIT = re.compile(r"[^0-9]", re.ASCII)
_NOT_ALNUM = re.compile(r"[^0-9A-Za-z]", re.ASCII)
_TRUNK_HINT = re.compile(r"\(0\)")

# ISO 13616 registry (SWIFT, 2024): country code -> IBAN length. Territories that may use their
# own code (AX, GF, ..., JE) are listed with their parent's length.
_IBAN_LENGTHS = {
    **dict.fromkeys(["AT", "BA", "EE", "KZ", "LT", "LU", "MN", "XK"], 20),
    **dict.fromkeys(["AD", "CZ", "ES", "MD", "PK", "RO", "SA", "SE", "SK", "TN", "VG"], 24),
    **dict.fromkeys(["AE", "GI", "IL", "IQ", "OM", "SO", "TL"], 23),
    **dict.fromkeys(["AL", "AZ", "BY", "CY", "DO", "GT", "HN", "HU", "LB", "NI", "PL", "SV"], 28),
    **dict.fromkeys(["BE"], 16),
    **dict.fromkeys(["BG", "BH", "CR", "DE", "GB", "GE", "IE", "ME", "RS", "VA"], 22),
    **dict.fromkeys(["GG", "IM", "JE"], 22),
    **dict.fromkeys(["BI", "DJ", "FR", "GR", "IT", "MC", "MR", "SM"], 27),
    **dict.fromkeys(["BL", "GF", "GP", "MF", "MQ", "NC", "PF", "PM", "RE", "TF", "WF", "YT"], 27),
    **dict.fromkeys(["BR", "EG", "PS", "QA", "UA"], 29),
    **dict.fromkeys(["CH", "HR", "LI", "LV"], 21),
    **dict.fromkeys(["AX", "DK", "FI", "FK", "FO", "GL", "NL", "SD"], 18),
    **dict.fromkeys(["IS", "TR"], 26),
    **dict.fromkeys(["JO", "KW", "MU", "YE"], 30),
    **dict.fromkeys(["LC"], 32),
    **dict.fromkeys(["LY", "PT", "ST"], 25),
    **dict.fromkeys(["MK", "SI"], 19),
    **dict.fromkeys(["MT", "SC"], 31),
    **dict.fromkeys(["NO"], 15),
    **dict.fromkeys(["RU"], 33),
}

# SSA never issues area 000, 666 or 900-999, group 00 or serial 0000.
_SSN_INVALID = re.compile(r"^(?:000|666|9..)|^...00|0000$", re.ASCII)
# HMRC never issues these prefixes, nor D F I Q U V first / D F I O Q U V second.
_NINO_INVALID_PREFIXES = frozenset({"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"})


class RedactionKeyMissing(RuntimeError):
    """The HMAC key is not configured, so tokens could not be stable or secret."""


def load_key(environ: Mapping[str, str] | None = None) -> bytes:
    """Read the redaction key from ``ABGATE_REDACTION_KEY``.

    There is deliberately no default: a key baked into the code would let anyone with the code
    reverse tokens of low-entropy values (phone numbers) by enumeration.
    """
    env = os.environ if environ is None else environ
    key = env.get(REDACTION_KEY_ENV, "")
    if not key:
        raise RedactionKeyMissing(
            f"{REDACTION_KEY_ENV} is not set. Prompts and responses are redacted with a keyed "
            "hash before they are stored, and the key must come from the environment. Set it to "
            "a long random secret and keep it stable across runs (tokens only join under the "
            f"same key), e.g. export {REDACTION_KEY_ENV}=$(python -c "
            "'import secrets; print(secrets.token_hex(32))')"
        )
    return key.encode("utf-8")


def _digits(value: str) -> str:
    return _NOT_DIGIT.sub("", value)


def _phone_digits(value: str) -> str:
    """Digits of a phone number, dropping the ``(0)`` trunk hint of ``+44 (0)20 ...``."""
    return _digits(_TRUNK_HINT.sub("", value))


def _compact_upper(value: str) -> str:
    return _NOT_ALNUM.sub("", value).upper()


def _as_written(value: str) -> str:
    return value


def _always(_: str) -> bool:
    return True


def _luhn_valid(value: str) -> bool:
    """Card check digit; filters out the ~90 % of long plain numbers that are not cards."""
    total = 0
    for position, char in enumerate(reversed(_digits(value))):
        digit = int(char)
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def _iban_valid(value: str) -> bool:
    """ISO 13616 check digits: the rotated number, letters as 10..35, is 1 modulo 97."""
    iban = _compact_upper(value)
    rotated = iban[4:] + iban[:4]
    return int("".join(str(int(char, 36)) for char in rotated)) % 97 == 1


def _iban_pattern() -> str:
    """Registered country codes with exactly their length, printed in groups of four or not.

    Exact lengths matter: a greedy "letters, digits, groups of four" pattern would swallow the
    next word ("BE68 5390 0754 7034 Bank") and the whole candidate would then fail the checksum.
    """
    countries_by_length: dict[int, list[str]] = defaultdict(list)
    for country, length in sorted(_IBAN_LENGTHS.items()):
        countries_by_length[length].append(country)
    alternatives = []
    for length, countries in sorted(countries_by_length.items()):
        groups, rest = divmod(length - 4, 4)
        tail = f"(?: ?[A-Za-z0-9]{{{rest}}})" if rest else ""
        alternatives.append(
            f"(?i:{'|'.join(countries)})[0-9]{{2}}(?: ?[A-Za-z0-9]{{4}}){{{groups}}}{tail}"
        )
    return rf"(?<![A-Za-z0-9])(?P<value>{'|'.join(alternatives)})(?![A-Za-z0-9])"


def _ssn_valid(value: str) -> bool:
    return not _SSN_INVALID.search(_digits(value))


def _nino_valid(value: str) -> bool:
    return _compact_upper(value)[:2] not in _NINO_INVALID_PREFIXES


def _digit_count_between(low: int, high: int) -> Callable[[str], bool]:
    """Phone numbers are told from other grouped numbers by their length in digits."""

    def valid(value: str) -> bool:
        return low <= len(_phone_digits(value)) <= high

    return valid


@dataclass(frozen=True)
class _Rule:
    """One kind of PII: a pattern whose ``value`` group is replaced, and how to check it.

    ``hint`` is a cheap RE2-compatible regex that every match of ``pattern`` contains; the
    union of all hints decides which texts need the full scan at all.
    """

    kind: str
    pattern: re.Pattern[str]
    hint: re.Pattern[str]
    normalize: Callable[[str], str] = _as_written
    is_valid: Callable[[str], bool] = _always


def _rule(kind: str, pattern: str, hint: str, **checks: Callable[[str], bool]) -> _Rule:
    return _Rule(kind, re.compile(pattern, re.ASCII), re.compile(hint, re.ASCII), **checks)


_TOKEN_CHARS = "A-Za-z0-9_-"

_RULES: tuple[_Rule, ...] = (
    _rule(
        "JWT",
        rf"(?<![{_TOKEN_CHARS}])(?P<value>eyJ[{_TOKEN_CHARS}]{{5,}}+"
        rf"\.[{_TOKEN_CHARS}]{{5,}}+\.[{_TOKEN_CHARS}]*+)",
        "eyJ",
    ),
    _rule(
        "API_KEY",
        # A digit is required so that hyphenated words such as sk-learn-... survive.
        rf"(?<![{_TOKEN_CHARS}])(?P<value>sk-(?=[A-Za-z_-]*[0-9])[{_TOKEN_CHARS}]{{20,}}+)",
        "sk-",
    ),
    _rule(
        "AWS_KEY",
        r"(?<![A-Za-z0-9])(?P<value>(?:AKIA|ASIA)[A-Z0-9]{16})(?![A-Za-z0-9])",
        "AKIA|ASIA",
    ),
    _rule(
        "GITHUB_TOKEN",
        r"(?<![A-Za-z0-9_])(?P<value>gh[pousr]_[A-Za-z0-9]{30,}+|github_pat_[A-Za-z0-9_]{22,}+)",
        "gh[pousr]_|github_pat_",
    ),
    _rule(
        "SLACK_TOKEN",
        r"(?<![A-Za-z0-9])(?P<value>xox[baprs]-[A-Za-z0-9-]{10,}+)",
        "xox[baprs]-",
    ),
    _rule(
        "BEARER",
        # Only the credential is replaced; "Authorization: Bearer" stays readable.
        r"(?<![A-Za-z])(?i:bearer)(?:\s*[:=]\s*|\s+)"
        r"(?P<value>(?=[A-Za-z._~+/-]*[0-9])[A-Za-z0-9._~+/-]{16,}+=*+)",
        "(?i:bearer)",
    ),
    _rule(
        "EMAIL",
        r"(?<![A-Za-z0-9._%+-])(?P<value>[A-Za-z0-9._%+-]++@"
        r"[A-Za-z0-9-]++(?:\.[A-Za-z0-9-]++)*\.[A-Za-z]{2,63})(?![A-Za-z0-9-])",
        "@",
        normalize=str.lower,
    ),
    _rule(
        "IBAN",
        _iban_pattern(),
        "(?:^|[^A-Za-z0-9])[A-Za-z]{2}[0-9]{2}",
        normalize=_compact_upper,
        is_valid=_iban_valid,
    ),
    _rule(
        "CARD",
        # Not glued to words, ids, decimals or a "+": "0.3333333333333333" is a float and
        # "+4915112345678" a phone number, whatever their check digit says.
        r"(?<![A-Za-z0-9_+-])(?<![0-9]\.)(?P<value>[2-6][0-9]{12,18}"
        r"|[2-6][0-9]{3}(?P<sep>[ -])(?:[0-9]{6}(?P=sep)[0-9]{4,5}"
        r"|[0-9]{4}(?P=sep)[0-9]{4}(?P=sep)[0-9]{1,4}))"
        r"(?![A-Za-z0-9_-]|\.[0-9])",
        "(?:^|[^A-Za-z0-9_+-])[2-6][0-9]{3}[ -]?[0-9]{4}",
        normalize=_digits,
        is_valid=_luhn_valid,
    ),
    _rule(
        "SSN",
        r"(?<![A-Za-z0-9_-])(?P<value>[0-9]{3}-[0-9]{2}-[0-9]{4})(?![A-Za-z0-9_-])",
        "(?:^|[^A-Za-z0-9_-])[0-9]{3}-[0-9]{2}-[0-9]{4}",
        normalize=_digits,
        is_valid=_ssn_valid,
    ),
    _rule(
        "NINO",
        r"(?<![A-Za-z0-9])(?P<value>[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]"
        r" ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-D])(?![A-Za-z0-9])",
        "[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-D]",
        normalize=_compact_upper,
        is_valid=_nino_valid,
    ),
    _rule(
        "PHONE",
        r"(?<![A-Za-z0-9_+])(?P<value>\+[1-9][0-9]{0,2}+"
        r"(?:[ .-]?(?:\([0-9]{1,4}\)|[0-9]{1,5}+)){1,6})(?![0-9])",
        r"\+[0-9]",
        normalize=_phone_digits,
        is_valid=_digit_count_between(8, 15),
    ),
    _rule(
        "PHONE",
        r"(?<![A-Za-z0-9_+.$-])(?P<value>(?:1[ .-]?)?(?:\([2-9][0-9]{2}\) ?[0-9]{3}[ .-]"
        r"|[2-9][0-9]{2}(?P<sep>[ .-])[0-9]{3}(?P=sep))[0-9]{4})(?![A-Za-z0-9_-]|\.[0-9])",
        r"(?:[0-9]{3}[ .-]|\) ?)[0-9]{3}[ .-][0-9]{4}",
        normalize=_phone_digits,
    ),
    _rule(
        "PHONE",
        # Not right after a group of four digits: "0532 0130 01" inside an IBAN or card body
        # that failed its checksum is not a national number with a trunk 0.
        r"(?<![A-Za-z0-9_+.,/-])(?<![0-9]{4} )"
        r"(?P<value>\(0[1-9][0-9]{0,4}\) ?[0-9]{2,8}(?:[ -][0-9]{2,8}){0,3}"
        r"|0[1-9][0-9]{0,4}(?P<sep>[ /.-])[0-9]{2,8}(?:(?P=sep)[0-9]{2,8}){0,4})"
        r"(?![A-Za-z0-9_]|[.,/-][0-9])",
        r"(?:^|[^A-Za-z0-9_+.,/-])(?:\(0[1-9][0-9]{0,4}\)|0[1-9][0-9]{0,4}[ /.-])",
        normalize=_phone_digits,
        is_valid=_digit_count_between(9, 13),
    ),
)

# Texts matching none of the hints cannot contain PII; most log lines stop here.
_PREFILTER_SOURCE = "|".join(f"(?:{rule.hint.pattern})" for rule in _RULES)
_PREFILTER = re.compile(_PREFILTER_SOURCE, re.ASCII)


@dataclass(frozen=True)
class Redactor:
    """Replaces PII and secrets in free text by stable keyed-hash tokens."""

    key: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.key, bytes) or not self.key:
            # An empty key degrades the HMAC to a public hash: phone numbers become reversible.
            raise RedactionKeyMissing("Redactor needs a non-empty bytes key; see load_key().")

    def redact(self, text: str | None) -> str | None:
        """The text with every PII match replaced by its token; ``None`` stays ``None``."""
        return self.redact_with_counts(text)[0]

    def redact_with_counts(self, text: str | None) -> tuple[str | None, Counter[str]]:
        """Like :meth:`redact`, plus how many values of each kind were replaced."""
        counts: Counter[str] = Counter()
        if text is None or not _PREFILTER.search(text):
            return text, counts
        while True:
            replaced_before = counts.total()
            text = self._redact_once(text, counts)
            if counts.total() == replaced_before:
                return text, counts

    def _redact_once(self, text: str, counts: Counter[str]) -> str:
        """One pass of every rule, in priority order.

        A replacement can expose a match next to it that its neighbour blocked (a key glued to
        the end of a phone number), so :meth:`redact_with_counts` repeats passes until one
        replaces nothing. That makes redaction idempotent, and it terminates because every
        replacement turns PII characters into a token that no rule matches.
        """
        for rule in _RULES:
            if rule.hint.search(text):
                text = rule.pattern.sub(partial(self._replace, rule, counts), text)
        return text

    def token(self, kind: str, normalized: str) -> str:
        """``[KIND:hex]`` for an already normalized value: the join key that survives redaction."""
        digest = hmac.digest(self.key, normalized.encode("utf-8"), "sha256")
        return f"[{kind}:{digest.hex()[:TOKEN_HEX_CHARS]}]"

    def redact_arrow(self, texts: pa.Array | pa.ChunkedArray) -> pa.Array:
        """Vectorised redaction: RE2 picks the candidate rows in C++, Python only sees those."""
        if isinstance(texts, pa.ChunkedArray):
            texts = texts.combine_chunks()
        candidates = pc.fill_null(pc.match_substring_regex(texts, _PREFILTER_SOURCE), False)
        if not pc.any(candidates).as_py():
            return texts
        redacted = [self.redact(text) for text in pc.filter(texts, candidates).to_pylist()]
        return pc.replace_with_mask(texts, candidates, pa.array(redacted, type=texts.type))

    def _replace(self, rule: _Rule, counts: Counter[str], match: re.Match[str]) -> str:
        value = match["value"]
        if not rule.is_valid(value):
            return match[0]
        counts[rule.kind] += 1
        offset = match.start()
        start, end = match.span("value")
        whole = match[0]
        token = self.token(rule.kind, rule.normalize(value))
        return whole[: start - offset] + token + whole[end - offset :]


def register_duckdb_udf(
    con: duckdb.DuckDBPyConnection, redactor: Redactor, name: str = "abgate_redact"
) -> None:
    """Expose ``redactor`` to SQL as ``name(VARCHAR) -> VARCHAR``.

    Vectorised over Arrow batches so ingestion SQL (``SELECT abgate_redact(prompt) FROM
    read_json(...)``) redacts inside the engine, before any row reaches a table. Nulls are passed
    through to the function (``SPECIAL`` handling) and come back as nulls.

    Also sets the session variable ``abgate_redaction_hint`` to the union of the rules' hints, the
    RE2 test ``redact_arrow`` starts with: SQL can run it first and call Python only for the
    texts that pass (``redact()`` in sql/landing_macros.sql), which saves a Python call per
    vector of texts that cannot hold PII.
    """
    con.create_function(
        name,
        redactor.redact_arrow,
        [VARCHAR],
        VARCHAR,
        type=ARROW,
        null_handling=SPECIAL,
    )
    con.execute("SET VARIABLE abgate_redaction_hint = $pattern", {"pattern": _PREFILTER_SOURCE})
