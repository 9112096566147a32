"""PII redaction: what is replaced, what survives, and that SQL and Python agree."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections import Counter

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from abgate_pipeline import warehouse
from abgate_pipeline.redaction import (
    _PREFILTER,
    _RULES,
    REDACTION_KEY_ENV,
    RedactionKeyMissing,
    Redactor,
    load_key,
    register_duckdb_udf,
)

KEY = b"test-redaction-key"
NUMERIC_KINDS = {"PHONE", "CARD", "SSN"}
JWT_EXAMPLE = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)

# (kind, value) pairs: each value is PII and must disappear entirely.
PII_VALUES = [
    ("EMAIL", "Jane.Doe+billing@Example.co.uk"),
    ("EMAIL", "ops@abgate.dev"),
    ("PHONE", "+44 20 7946 0958"),
    ("PHONE", "+44 (0)20 7946 0958"),
    ("PHONE", "+1 (555) 123-4567"),
    ("PHONE", "+4915112345678"),
    ("PHONE", "+33 1 23 45 67 89"),
    ("PHONE", "(555) 123-4567"),
    ("PHONE", "555-123-4567"),
    ("PHONE", "555.123.4567"),
    ("PHONE", "1-800-555-0199"),
    ("PHONE", "030 1234567"),
    ("PHONE", "0171 1234567"),
    ("PHONE", "01 23 45 67 89"),
    ("PHONE", "(020) 7946 0958"),
    ("PHONE", "06-12345678"),
    ("CARD", "4111 1111 1111 1111"),
    ("CARD", "5500-0000-0000-0004"),
    ("CARD", "4111111111111111"),
    ("CARD", "3782 822463 10005"),
    ("CARD", "4222222222222"),
    ("CARD", "6222222222222222222"),
    ("IBAN", "DE89 3704 0044 0532 0130 00"),
    ("IBAN", "GB29NWBK60161331926819"),
    ("IBAN", "NL91 ABNA 0417 1643 00"),
    ("IBAN", "BE68 5390 0754 7034"),
    ("IBAN", "fr14 2004 1010 0505 0001 3m02 606"),
    ("SSN", "078-05-1120"),
    ("NINO", "AB123456C"),
    ("NINO", "JG 10 37 59 A"),
    ("API_KEY", "sk-proj-abc123DEF456ghi789JKL012mno345"),
    ("API_KEY", "sk-abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKL"),
    ("AWS_KEY", "AKIAIOSFODNN7EXAMPLE"),
    ("GITHUB_TOKEN", "ghp_1234567890abcdefghijABCDEFGHIJ123456"),
    ("GITHUB_TOKEN", "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz"),
    ("SLACK_TOKEN", "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"),
    ("JWT", JWT_EXAMPLE),
]

# Text that looks numeric or key-like but is not PII and must come back unchanged.
LOOKALIKES = [
    "4111 1111 1111 1112",
    "4111111111111112",
    "ORD-20261101-0042",
    "released in 2026",
    "costs $12.50",
    "used 1,234 tokens",
    "10 000 users",
    "DE89 3704 0044 0532 0130 01",
    "2026-11-01T10:30:00Z",
    "2026-11-01 10:30:00.123+00:00",
    "01.11.2026 14:30",
    "123e4567-e89b-12d3-a456-426614174000",
    "trace 4bf92f3577b34da6a3ce929d0e0e4736",
    "p = 0.3333333333333333",
    "epoch 1730000000000",
    "000-12-3456",
    "v1.2.3",
    "+2 points",
    "order 12345678",
    "pip install sk-learn-compatible-estimator",
    "the bearer of this letter",
    "Bearer token expired",
]


def expected_token(kind: str, normalized: str, key: bytes = KEY) -> str:
    digest = hmac.new(key, normalized.encode(), hashlib.sha256).hexdigest()
    return f"[{kind}:{digest[:12]}]"


@pytest.fixture
def redactor() -> Redactor:
    return Redactor(KEY)


class TestEachKind:
    @pytest.mark.parametrize(("kind", "value"), PII_VALUES, ids=[v for _, v in PII_VALUES])
    def test_value_is_replaced_by_one_token_of_its_kind(self, redactor, kind, value):
        text, counts = redactor.redact_with_counts(f"Hi, it is {value}. Thanks!")

        assert re.fullmatch(rf"Hi, it is \[{kind}:[0-9a-f]{{12}}\]\. Thanks!", text)
        assert counts == Counter({kind: 1})
        assert value not in text

    @pytest.mark.parametrize(
        "value", [v for kind, v in PII_VALUES if kind in NUMERIC_KINDS | {"IBAN"}]
    )
    def test_no_digits_survive_for_numeric_kinds(self, redactor, value):
        digits = re.sub(r"[^0-9]", "", value)

        text = redactor.redact(f"ref: {value}")

        assert digits not in re.sub(r"[^0-9]", "", text)

    def test_token_is_hmac_of_normalized_value(self, redactor):
        assert redactor.redact("Jane.Doe@Example.com") == expected_token(
            "EMAIL", "jane.doe@example.com"
        )
        assert redactor.redact("+44 20 7946 0958") == expected_token("PHONE", "442079460958")
        assert redactor.redact("4111-1111-1111-1111") == expected_token("CARD", "4111111111111111")
        assert redactor.redact("de89 3704 0044 0532 0130 00") == expected_token(
            "IBAN", "DE89370400440532013000"
        )
        assert redactor.redact("078-05-1120") == expected_token("SSN", "078051120")
        assert redactor.redact("AB 12 34 56 C") == expected_token("NINO", "AB123456C")
        assert redactor.redact("AKIAIOSFODNN7EXAMPLE") == expected_token(
            "AWS_KEY", "AKIAIOSFODNN7EXAMPLE"
        )

    def test_bearer_keeps_the_header_and_replaces_only_the_credential(self, redactor):
        token = "8f14e45fceea167a5a36dedd4bea2543abc"

        text = redactor.redact(f"Authorization: Bearer {token}\nAccept: */*")

        assert text == f"Authorization: Bearer {expected_token('BEARER', token)}\nAccept: */*"

    def test_jwt_in_a_bearer_header_is_one_whole_jwt_token(self, redactor):
        text, counts = redactor.redact_with_counts(f"Authorization: Bearer {JWT_EXAMPLE}")

        assert text == f"Authorization: Bearer {expected_token('JWT', JWT_EXAMPLE)}"
        assert counts == Counter({"JWT": 1})

    def test_card_is_not_taken_for_a_phone_number(self, redactor):
        _, counts = redactor.redact_with_counts("card 4111 1111 1111 1111 and 5500000000000004")

        assert counts == Counter({"CARD": 2})

    def test_iban_digits_are_not_taken_for_a_card_or_phone(self, redactor):
        _, counts = redactor.redact_with_counts(
            "IBAN DE89 3704 0044 0532 0130 00, GB29NWBK60161331926819"
        )

        assert counts == Counter({"IBAN": 2})

    def test_iban_followed_by_a_word_is_cut_at_its_registered_length(self, redactor):
        assert redactor.redact("BE68 5390 0754 7034 Bank") == (
            expected_token("IBAN", "BE68539007547034") + " Bank"
        )

    def test_email_with_digits_is_one_email(self, redactor):
        _, counts = redactor.redact_with_counts("mail +442079460958@sms.example.com")

        assert counts == Counter({"EMAIL": 1})

    def test_match_exposed_by_a_neighbouring_replacement_is_redacted_too(self, redactor):
        text, counts = redactor.redact_with_counts("+442079460958AKIAIOSFODNN7EXAMPLE")

        assert text == expected_token("PHONE", "442079460958") + expected_token(
            "AWS_KEY", "AKIAIOSFODNN7EXAMPLE"
        )
        assert counts == Counter({"PHONE": 1, "AWS_KEY": 1})

    def test_counts_every_replacement_by_kind(self, redactor):
        text = "a@x.io, B@x.io, +44 20 7946 0958, 4111 1111 1111 1111 and AKIAIOSFODNN7EXAMPLE"

        _, counts = redactor.redact_with_counts(text)

        assert counts == Counter({"EMAIL": 2, "PHONE": 1, "CARD": 1, "AWS_KEY": 1})

    def test_surrounding_text_is_kept_exactly(self, redactor):
        text = (
            "Order ORD-20261101-0042 ($12.50, 1,234 tokens): mail jane@x.com or +44 20 7946 0958."
        )

        assert redactor.redact(text) == (
            "Order ORD-20261101-0042 ($12.50, 1,234 tokens): mail "
            f"{expected_token('EMAIL', 'jane@x.com')} or {expected_token('PHONE', '442079460958')}."
        )


class TestLookalikesSurvive:
    @pytest.mark.parametrize("text", LOOKALIKES)
    def test_unchanged(self, redactor, text):
        assert redactor.redact_with_counts(text) == (text, Counter())


class TestTokens:
    def test_stable_across_instances_with_the_same_key(self):
        text = "mail jane@x.com, call +44 20 7946 0958"

        assert Redactor(KEY).redact(text) == Redactor(bytes(KEY)).redact(text)

    def test_differ_under_another_key(self):
        text = "mail jane@x.com"

        assert Redactor(KEY).redact(text) != Redactor(b"another-key").redact(text)

    @pytest.mark.parametrize(
        "spellings",
        [
            ["Jane.Doe@Example.COM", "jane.doe@example.com", "JANE.DOE@EXAMPLE.COM"],
            ["+44 20 7946 0958", "+442079460958", "+44-20-7946-0958", "+44 (0)20 7946 0958"],
            ["(555) 123-4567", "555-123-4567", "555.123.4567", "555 123 4567"],
            ["DE89 3704 0044 0532 0130 00", "DE89370400440532013000", "de89370400440532013000"],
            ["4111 1111 1111 1111", "4111-1111-1111-1111", "4111111111111111"],
            ["AB123456C", "AB 12 34 56 C"],
        ],
        ids=["email-case", "phone-spacing", "us-phone-format", "iban-spacing", "card", "nino"],
    )
    def test_equal_values_in_different_formats_share_a_token(self, redactor, spellings):
        assert len({redactor.redact(spelling) for spelling in spellings}) == 1

    def test_none_passes_through(self, redactor):
        assert redactor.redact(None) is None
        assert redactor.redact_with_counts(None) == (None, Counter())

    def test_empty_key_is_refused(self):
        with pytest.raises(RedactionKeyMissing):
            Redactor(b"")


class TestLoadKey:
    def test_reads_the_environment_variable(self):
        assert load_key({REDACTION_KEY_ENV: "s3cret"}) == b"s3cret"

    @pytest.mark.parametrize("environ", [{}, {REDACTION_KEY_ENV: ""}])
    def test_missing_or_empty_says_how_to_set_it(self, environ):
        with pytest.raises(RedactionKeyMissing, match=rf"{REDACTION_KEY_ENV}.*export"):
            load_key(environ)

    def test_defaults_to_the_process_environment(self, monkeypatch):
        monkeypatch.delenv(REDACTION_KEY_ENV, raising=False)
        with pytest.raises(RedactionKeyMissing):
            load_key()
        monkeypatch.setenv(REDACTION_KEY_ENV, "from-env")
        assert load_key() == b"from-env"


UDF_ROWS = [
    None,
    "mail jane@x.com",
    "nothing to see in 2026",
    None,
    "card 4111 1111 1111 1111, IBAN DE89 3704 0044 0532 0130 00",
    "",
    *LOOKALIKES,
    *(f"row {i}: {value}" for i, (_, value) in enumerate(PII_VALUES)),
]


class TestDuckDBUdf:
    @pytest.fixture
    def con(self, redactor):
        con = duckdb.connect()
        register_duckdb_udf(con, redactor)
        yield con
        con.close()

    def test_matches_python_over_a_table_with_nulls(self, con, redactor):
        rows = UDF_ROWS * 300  # several DuckDB vectors, so several Arrow batches
        con.execute(
            "CREATE TABLE logs AS SELECT * FROM unnest(?) WITH ORDINALITY AS t(prompt, id)",
            [rows],
        )

        got = con.execute("SELECT abgate_redact(prompt) FROM logs ORDER BY id").fetchall()

        assert [value for (value,) in got] == [redactor.redact(row) for row in rows]

    def test_redacts_inside_read_json(self, con, redactor, tmp_path):
        path = tmp_path / "logs.jsonl"
        path.write_text("\n".join(json.dumps({"prompt": row}) for row in UDF_ROWS))

        got = con.execute(
            f"SELECT abgate_redact(prompt) FROM read_json('{path}', format='newline_delimited')"
        ).fetchall()

        assert [value for (value,) in got] == [redactor.redact(row) for row in UDF_ROWS]

    def test_custom_name(self, redactor):
        con = duckdb.connect()
        register_duckdb_udf(con, redactor, name="scrub")

        assert con.execute("SELECT scrub('ops@abgate.dev'), scrub(NULL)").fetchone() == (
            expected_token("EMAIL", "ops@abgate.dev"),
            None,
        )


@pytest.fixture(scope="module")
def sql():
    """A connection with the UDF and the SQL helpers that call it (sql/landing_macros.sql)."""
    con = duckdb.connect()
    register_duckdb_udf(con, Redactor(KEY))
    warehouse.run(con, "landing_macros")
    yield con
    con.close()


def sql_redact(con, texts: list[str | None]) -> list[str | None]:
    rows = con.execute(
        "SELECT redact(text) FROM unnest(?::VARCHAR[]) WITH ORDINALITY AS t(text, i) ORDER BY i",
        [texts],
    ).fetchall()
    return [value for (value,) in rows]


class TestSqlHelpers:
    """`redact()` and `redact_values()` run the rules' hints in SQL and call the UDF only for the
    texts that match one: what they store must be what the UDF alone would."""

    def test_redact_equals_the_udf_over_several_vectors(self, sql):
        rows = UDF_ROWS * 300

        assert sql_redact(sql, rows) == [Redactor(KEY).redact(row) for row in rows]

    def test_redact_values_redacts_every_value_and_keeps_the_keys(self, sql):
        maps = [
            {"query_type": "billing", "note": "call +44 20 7946 0958", "tier": "1"},
            {"query_type": "technical"},
            {},
            None,
        ]

        entries = [
            {
                "i": i,
                "k": None if m is None else list(m),
                "v": None if m is None else list(m.values()),
            }
            for i, m in enumerate(maps)
        ]
        got = sql.execute(
            "SELECT redact_values(map(e.k, e.v)) "
            "FROM (SELECT unnest(?::STRUCT(i INTEGER, k VARCHAR[], v VARCHAR[])[]) AS e) "
            "ORDER BY e.i",
            [entries],
        ).fetchall()

        redactor = Redactor(KEY)
        assert [value for (value,) in got] == [
            None if m is None else {k: redactor.redact(v) for k, v in m.items()} for m in maps
        ]

    def test_without_the_hint_every_text_goes_to_the_udf(self, redactor):
        con = duckdb.connect()
        register_duckdb_udf(con, redactor)
        warehouse.run(con, "landing_macros")
        con.execute("RESET VARIABLE abgate_redaction_hint")

        got = con.execute(
            "SELECT redact('mail ops@abgate.dev'), redact_values(MAP {'note': 'ops@abgate.dev'})"
        ).fetchone()

        token = expected_token("EMAIL", "ops@abgate.dev")
        assert got == (f"mail {token}", {"note": token})


# Fragments glued together with and without separators, to stress pattern boundaries.
_FRAGMENT = st.one_of(
    st.sampled_from([value for _, value in PII_VALUES] + LOOKALIKES),
    st.text(alphabet="0123456789 +-.()/@:[]_=eyJskAKIAxobBearer", max_size=16),
    st.text(max_size=8),
)
_SEPARATOR = st.sampled_from(["", " ", "-", ".", "+", "(", ")", ":", "\n", ", ", "@", "/"])
PII_SOUP = st.lists(st.tuples(_FRAGMENT, _SEPARATOR), max_size=8).map(
    lambda parts: "".join(fragment + separator for fragment, separator in parts)
)


class TestProperties:
    @given(st.one_of(st.text(), PII_SOUP))
    @settings(max_examples=300, deadline=None)
    def test_idempotent_and_never_raises(self, text):
        redactor = Redactor(KEY)

        once = redactor.redact(text)

        assert redactor.redact(once) == once

    @given(PII_SOUP)
    @settings(max_examples=300, deadline=None)
    def test_every_match_contains_its_rules_hint(self, text):
        """The hints gate the scan, so a hint that misses a match would leak that PII."""
        for rule in _RULES:
            for match in rule.pattern.finditer(text):
                assert rule.hint.search(text, max(match.start() - 1, 0), match.end()), (
                    rule.kind,
                    match[0],
                )

    @given(st.one_of(st.text(), PII_SOUP))
    @settings(max_examples=300, deadline=None)
    def test_sql_hint_passes_every_text_the_python_prefilter_passes(self, sql, text):
        """DuckDB's RE2 decides which texts skip the UDF; one it wrongly skipped would leak."""
        (passes,) = sql.execute(
            "SELECT regexp_matches(?, getvariable('abgate_redaction_hint'))", [text]
        ).fetchone()

        assert passes or not _PREFILTER.search(text)

    @given(st.lists(st.one_of(st.none(), st.text(), PII_SOUP), max_size=20))
    @settings(max_examples=100, deadline=None)
    def test_sql_path_equals_python_path(self, sql, texts):
        assert sql_redact(sql, texts) == [Redactor(KEY).redact(text) for text in texts]

    @given(st.lists(st.one_of(st.none(), PII_SOUP), max_size=20))
    @settings(max_examples=100, deadline=None)
    def test_arrow_path_equals_python_path(self, texts):
        """RE2 (Arrow) and Python re must agree on which texts need the full scan."""
        redactor = Redactor(KEY)

        got = redactor.redact_arrow(pa.array(texts, type=pa.string())).to_pylist()

        assert got == [redactor.redact(text) for text in texts]


@pytest.mark.parametrize(
    "text",
    [
        "a" * 200_000 + "@",
        "x@" + "a." * 100_000 + "1",
        "+1 " + "12 " * 60_000,
        "0" + " 12" * 60_000,
        "eyJaaaaa." * 20_000,
        "DE89 " + "1111 " * 40_000,
        "4111 " * 40_000,
        "Bearer " + "a" * 200_000,
    ],
    ids=lambda text: text[:12],
)
def test_pathological_input_is_linear(redactor, text):
    started = time.perf_counter()

    redactor.redact(text)

    assert time.perf_counter() - started < 2.0
