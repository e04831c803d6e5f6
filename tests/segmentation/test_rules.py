"""The analyst rule language: parsing, every bad-input message, mask and SQL agreeing."""

from __future__ import annotations

import math
import sqlite3
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segmentation.rules import (
    ALLOWED_FEATURES,
    MSG_CHAINED,
    MSG_CHARACTER,
    MSG_EMPTY,
    MSG_MISSING_COLUMN,
    MSG_NO_FEATURE,
    MSG_NUMBER,
    MSG_NUMBER_PLACES,
    MSG_NUMBER_SIZE,
    MSG_OPERAND,
    MSG_OPERATOR,
    MSG_SINGLE_EQUALS,
    MSG_SYMBOL_LOGIC,
    MSG_TOO_DEEP,
    MSG_TOO_LONG,
    MSG_UNCLOSED,
    MSG_UNEXPECTED,
    MSG_UNKNOWN,
    MSG_UNKNOWN_HINT,
    And,
    Compare,
    Feature,
    Not,
    Number,
    Or,
    RuleError,
    parse_rule,
)


def test_parse_rule_reads_the_examples_of_the_form():
    rule = parse_rule("age < 30 and digital_share > 0.7")
    assert rule.tree == And(
        (
            Compare(Feature("age"), "<", Number(Decimal("30"))),
            Compare(Feature("digital_share"), ">", Number(Decimal("0.7"))),
        )
    )
    rule = parse_rule("deposit_balance >= 1000000 or n_wealth > 0")
    assert isinstance(rule.tree, Or)
    assert rule.features == {"deposit_balance", "n_wealth"}


def test_parse_rule_gives_and_precedence_over_or_and_not_over_and():
    rule = parse_rule("not age < 30 and n_loan > 0 or n_card > 0")
    assert isinstance(rule.tree, Or)
    first = rule.tree.parts[0]
    assert isinstance(first, And) and isinstance(first.parts[0], Not)


def test_parse_rule_flattens_nested_and_or():
    assert parse_rule("(age < 1 and (n_loan > 0 and n_card > 0)) and value > 0").tree == parse_rule(
        "age < 1 and n_loan > 0 and n_card > 0 and value > 0"
    ).tree
    assert len(parse_rule("age < 1 or (n_loan > 0 or (n_card > 0))").tree.parts) == 3


def test_parse_rule_accepts_case_spacing_negatives_and_number_forms():
    rule = parse_rule("  NOT(Age>=18)OR deposit_balance < -1_000.5 AND loans_outstanding > 1e5 and value != .5 ")
    assert str(rule) == "not age >= 18 or deposit_balance < -1000.5 and loans_outstanding > 100000 and value != 0.5"
    assert parse_rule("30 > age").tree == Compare(Number(Decimal(30)), ">", Feature("age"))


def test_parse_rule_knows_every_feature_of_the_frame():
    for feature in ALLOWED_FEATURES:
        assert parse_rule(f"{feature} >= 1").features == {feature}
    assert "customer_id" not in ALLOWED_FEATURES


@pytest.mark.parametrize(
    ("text", "template", "position", "message"),
    [
        ("", MSG_EMPTY, None, "The rule is empty."),
        ("   \n ", MSG_EMPTY, None, "The rule is empty."),
        ("agee < 30", MSG_UNKNOWN_HINT, 1, "Unknown feature 'agee' at position 1; did you mean 'age'?"),
        ("age < 30 and salary > 5", MSG_UNKNOWN, 14, "Unknown feature 'salary' at position 14."),
        ("customer_id > 5", MSG_UNKNOWN, 1, "Unknown feature 'customer_id' at position 1."),
        ("age <", MSG_OPERAND, 6, "Expected a feature or a number at position 6, found the end of the rule."),
        ("age < and", MSG_OPERAND, 7, "Expected a feature or a number at position 7, found 'and'."),
        ("not", MSG_OPERAND, 4, "Expected a feature or a number at position 4, found the end of the rule."),
        ("age 30", MSG_OPERATOR, 5, "Expected a comparison (<, <=, >, >=, ==, !=) at position 5, found '30'."),
        ("age", MSG_OPERATOR, 4,
         "Expected a comparison (<, <=, >, >=, ==, !=) at position 4, found the end of the rule."),
        ("(age < 30", MSG_UNCLOSED, 1, "The parenthesis opened at position 1 is never closed."),
        ("age < 30)", MSG_UNEXPECTED, 9, "Unexpected ')' at position 9."),
        ("(age < 30 age > 2)", MSG_UNEXPECTED, 11, "Unexpected 'age' at position 11."),
        ("age < 30 n_loan > 1", MSG_UNEXPECTED, 10, "Unexpected 'n_loan' at position 10."),
        ("age = 30", MSG_SINGLE_EQUALS, 5, "A single '=' at position 5 is not a comparison; use '=='."),
        ("age < 3 && n_loan > 0", MSG_SYMBOL_LOGIC, 9, "'&&' at position 9: write 'and', 'or', 'not' instead."),
        ("age < 3 | n_loan > 0", MSG_SYMBOL_LOGIC, 9, "'|' at position 9: write 'and', 'or', 'not' instead."),
        ("!age", MSG_SYMBOL_LOGIC, 1, "'!' at position 1: write 'and', 'or', 'not' instead."),
        ("age < 30; drop table x", MSG_CHARACTER, 9, "Unexpected character ';' at position 9."),
        ("age < '30'", MSG_CHARACTER, 7, "Unexpected character \"'\" at position 7."),
        ("1 < 2", MSG_NO_FEATURE, 1, "The comparison at position 1 compares two numbers; name a feature."),
        ("18 <= age < 30", MSG_CHAINED, 11,
         "Chained comparison at position 11; join the two comparisons with 'and' (e.g. 18 <= age and age < 30)."),
        ("age < 1.2.3", MSG_NUMBER, 7, "Malformed number '1.2.3' at position 7."),
        ("age < 30years", MSG_NUMBER, 7, "Malformed number '30years' at position 7."),
        ("value > 1e16", MSG_NUMBER_SIZE, 9, "The number '1e16' at position 9 is too large."),
        # abs() of these overflowed Decimal's context: a server error on the form and the live count
        ("age < 1e9999999", MSG_NUMBER_SIZE, 7, "The number '1e9999999' at position 7 is too large."),
        ("age < -1E999999999", MSG_NUMBER_SIZE, 8, "The number '1E999999999' at position 8 is too large."),
        ("age > 1e-9999999", MSG_NUMBER_PLACES, 7,
         "The number '1e-9999999' at position 7 has too many decimal places (at most 15)."),
        ("(" * 31 + "age < 1" + ")" * 31, MSG_TOO_DEEP, 31,
         "The rule nests parentheses or 'not' too deeply (position 31)."),
        ("age < 1 or " * 200 + "age < 1", MSG_TOO_LONG, None, "The rule is too long (2207 characters; at most 2000)."),
    ],
)
def test_parse_rule_explains_bad_input(text, template, position, message):
    with pytest.raises(RuleError) as caught:
        parse_rule(text)
    assert caught.value.template == template
    assert caught.value.position == position
    assert str(caught.value) == message
    # a form translates the template and fills in the same params
    assert caught.value.template % caught.value.params == message


def test_rule_mask_selects_the_matching_customers():
    frame = pd.DataFrame({"age": [25, 35, 28, 22], "digital_share": [0.9, 0.9, 0.5, 0.71]}, index=[10, 11, 12, 13])
    mask = parse_rule("age < 30 and digital_share > 0.7").mask(frame)
    assert mask.dtype == bool
    assert mask.to_dict() == {10: True, 11: False, 12: False, 13: True}


def test_rule_mask_treats_missing_values_as_sql_null():
    frame = pd.DataFrame({"age": [np.nan, np.nan, 40.0], "n_loan": [1, 0, None]})
    assert parse_rule("age < 30").mask(frame).tolist() == [False, False, False]
    assert parse_rule("not age < 30").mask(frame).tolist() == [False, False, True]
    assert parse_rule("age != 30").mask(frame).tolist() == [False, False, True]
    assert parse_rule("age < 30 or n_loan > 0").mask(frame).tolist() == [True, False, False]
    assert parse_rule("not (age < 30 and n_loan > 0)").mask(frame).tolist() == [False, True, True]


def test_rule_mask_reads_decimal_and_nullable_columns():
    frame = pd.DataFrame(
        {
            "deposit_balance": [Decimal("1000000.00"), Decimal("999999.99"), None],
            "n_wealth": pd.array([0, pd.NA, 2], dtype="Int64"),
        }
    )
    assert parse_rule("deposit_balance >= 1000000 or n_wealth > 0").mask(frame).tolist() == [True, False, True]


def test_rule_mask_names_a_feature_missing_from_the_frame():
    with pytest.raises(RuleError) as caught:
        parse_rule("value > 1 and age > 2").mask(pd.DataFrame({"age": [1]}))
    assert caught.value.template == MSG_MISSING_COLUMN
    assert str(caught.value) == "The features lack value, which the rule uses."


def test_rule_to_sql_is_parameterised():
    sql, params = parse_rule("age < 30 and (digital_share > 0.7 or not n_wealth == 0) or 5 <= n_loan").to_sql()
    assert sql == "((f.age < %s AND (f.digital_share > %s OR NOT (f.n_wealth = %s))) OR %s <= f.n_loan)"
    assert params == [Decimal(30), Decimal("0.7"), Decimal(0), Decimal(5)]
    assert parse_rule("age != 1").to_sql(column_prefix="")[0] == "age <> %s"
    assert parse_rule("age != 1").to_sql(column_prefix="feat.")[0] == "feat.age <> %s"


@pytest.mark.parametrize("prefix", ["f", "f.; drop table x; --", "1f.", "a.b."])
def test_rule_to_sql_refuses_a_prefix_that_is_not_an_alias(prefix):
    with pytest.raises(ValueError, match="Not a table alias"):
        parse_rule("age < 1").to_sql(column_prefix=prefix)


def test_rule_to_sql_refuses_a_hand_built_tree_naming_another_column():
    from segmentation.rules import Rule

    rule = Rule(Compare(Feature("password"), "<", Number(Decimal(1))))
    with pytest.raises(ValueError, match="Not a feature"):
        rule.to_sql()


# --- properties: generated rules parse, and mask, SQL and a reference agree ---

FEATURES = ("age", "digital_share", "deposit_balance", "n_wealth")
VALUES = (None, -1.0, 0.0, 0.5, 0.7, 1.0, 30.0, 1000000.0)
OPERATOR_NAMES = ("<", "<=", ">", ">=", "==", "!=")

numbers = st.sampled_from([v for v in VALUES if v is not None]).map(lambda v: Number(Decimal(repr(v))))
features = st.sampled_from(FEATURES).map(Feature)
comparisons = st.one_of(
    st.builds(Compare, features, st.sampled_from(OPERATOR_NAMES), numbers),
    st.builds(Compare, numbers, st.sampled_from(OPERATOR_NAMES), features),
    st.builds(Compare, features, st.sampled_from(OPERATOR_NAMES), features),
)
trees = st.recursive(
    comparisons,
    lambda inner: st.one_of(
        st.builds(Not, inner),
        st.lists(inner, min_size=2, max_size=3).map(lambda parts: And(tuple(parts))),
        st.lists(inner, min_size=2, max_size=3).map(lambda parts: Or(tuple(parts))),
    ),
    max_leaves=8,
)
rows = st.lists(st.fixed_dictionaries({f: st.sampled_from(VALUES) for f in FEATURES}), min_size=1, max_size=12)


def spelled(tree, draw_case, draw_space) -> str:
    """Text for a tree, fully parenthesised, in the analyst's own spacing and case."""
    space = draw_space()
    if isinstance(tree, Compare):
        left, right = (o.name if isinstance(o, Feature) else str(o.value) for o in (tree.left, tree.right))
        return f"{left}{space}{tree.op}{draw_space()}{right}"
    if isinstance(tree, Not):
        return f"{draw_case('not')} ({spelled(tree.part, draw_case, draw_space)})"
    word = f" {draw_case('and' if isinstance(tree, And) else 'or')} "
    return "(" + word.join(spelled(p, draw_case, draw_space) for p in tree.parts) + ")"


def reference(tree, row: dict) -> bool | None:
    """Three-valued truth of `tree` for one row, written plainly (None = unknown)."""
    if isinstance(tree, Compare):
        left, right = (row[o.name] if isinstance(o, Feature) else float(o.value) for o in (tree.left, tree.right))
        if left is None or right is None:
            return None
        return {
            "<": left < right,
            "<=": left <= right,
            ">": left > right,
            ">=": left >= right,
            "==": left == right,
            "!=": left != right,
        }[tree.op]
    if isinstance(tree, Not):
        inner = reference(tree.part, row)
        return None if inner is None else not inner
    values = [reference(p, row) for p in tree.parts]
    if isinstance(tree, And):
        return False if False in values else (None if None in values else True)
    return True if True in values else (None if None in values else False)


@settings(max_examples=300, deadline=None)
@given(trees, st.data())
def test_generated_rules_parse_and_keep_their_meaning(tree, data):
    text = spelled(
        tree,
        lambda word: data.draw(st.sampled_from([word, word.upper(), word.title()])),
        lambda: data.draw(st.sampled_from(["", " ", "  ", "\t"])),
    )
    rule = parse_rule(text)
    again = parse_rule(str(rule))
    assert str(again) == str(rule)
    assert again.tree == rule.tree


@settings(max_examples=300, deadline=None)
@given(trees, rows)
def test_rule_mask_equals_a_reference_evaluation_and_sql(tree, records):
    rule = parse_rule(spelled(tree, str, lambda: " "))
    frame = pd.DataFrame(
        {f: [math.nan if r[f] is None else r[f] for r in records] for f in FEATURES}, index=range(len(records))
    )
    expected = [reference(tree, r) is True for r in records]
    assert rule.mask(frame).tolist() == expected

    # the live count's WHERE fragment selects the same rows (SQLite has SQL's NULL logic)
    sql, params = rule.to_sql(column_prefix="f.")
    with sqlite3.connect(":memory:") as connection:
        connection.execute(f"CREATE TABLE features (row INTEGER, {', '.join(f + ' REAL' for f in FEATURES)})")
        connection.executemany(
            f"INSERT INTO features VALUES (?, {', '.join('?' for _ in FEATURES)})",
            [(i, *(r[f] for f in FEATURES)) for i, r in enumerate(records)],
        )
        query = f"SELECT row FROM features AS f WHERE {sql.replace('%s', '?')} ORDER BY row"
        selected = {row for (row,) in connection.execute(query, [float(p) for p in params])}
    assert [i in selected for i in range(len(records))] == expected
