"""Analyst rule segments: a small, safe condition language over the features.

    age < 30 and digital_share > 0.7
    deposit_balance >= 1000000 or n_wealth > 0
    not (recency_days > 180) and (n_loan >= 1 or n_mortgage >= 1)

A hand-written tokeniser and recursive-descent parser, never ``eval``: the
grammar admits only comparisons between allow-listed feature names and
numbers, joined by ``and`` / ``or`` / ``not`` and parentheses, so a rule typed
in a form can neither run code nor name a column outside the feature table.
(Python's ``ast`` would accept Python's grammar — chained comparisons,
``1 < 2``, ``x and`` precedence quirks — and still need a whitelist walk;
the grammar below is short enough to own.)

    rule       := or_expr END
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | "(" or_expr ")" | comparison
    comparison := operand ("<" | "<=" | ">" | ">=" | "==" | "!=") operand
    operand    := feature | ["-" | "+"] number

Keywords and feature names are case-insensitive. A missing feature value
makes its comparison *unknown*, exactly as NULL does in SQL: a customer
belongs to the segment only when the rule is definitely true, so the live
count in PostgreSQL (`Rule.to_sql`) and the pandas run (`Rule.mask`) agree.

Error messages are English msgids with ``%(name)s`` placeholders
(`RuleError.template`, `RuleError.params`) so a form can translate them.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import pandas as pd

from segmentation.columns import RULE_FEATURES


def gettext_noop(message: str) -> str:
    """Mark a msgid for makemessages; the form that shows it translates it.

    Defined here rather than imported so this module stays free of Django.
    """
    return message


ALLOWED_FEATURES = RULE_FEATURES
OPERATORS: dict[str, str] = {"<": "<", "<=": "<=", ">": ">", ">=": ">=", "==": "=", "!=": "<>"}
KEYWORDS = frozenset({"and", "or", "not"})
MAX_LENGTH = 2000
MAX_DEPTH = 30
# Beyond this a number is a typo, and float and SQL numeric would disagree.
MAX_DIGITS = 15
MAX_MAGNITUDE = Decimal(10) ** MAX_DIGITS

MSG_EMPTY = gettext_noop("The rule is empty.")
MSG_TOO_LONG = gettext_noop("The rule is too long (%(length)d characters; at most %(limit)d).")
MSG_TOO_DEEP = gettext_noop("The rule nests parentheses or 'not' too deeply (position %(position)d).")
MSG_CHARACTER = gettext_noop("Unexpected character %(found)s at position %(position)d.")
MSG_SINGLE_EQUALS = gettext_noop("A single '=' at position %(position)d is not a comparison; use '=='.")
MSG_SYMBOL_LOGIC = gettext_noop("%(found)s at position %(position)d: write 'and', 'or', 'not' instead.")
MSG_NUMBER = gettext_noop("Malformed number %(found)s at position %(position)d.")
MSG_NUMBER_SIZE = gettext_noop("The number %(found)s at position %(position)d is too large.")
MSG_NUMBER_PLACES = gettext_noop(
    "The number %(found)s at position %(position)d has too many decimal places (at most %(places)d)."
)
MSG_UNKNOWN = gettext_noop("Unknown feature %(found)s at position %(position)d.")
MSG_UNKNOWN_HINT = gettext_noop("Unknown feature %(found)s at position %(position)d; did you mean %(suggestion)s?")
MSG_OPERAND = gettext_noop("Expected a feature or a number at position %(position)d, found %(found)s.")
MSG_OPERATOR = gettext_noop("Expected a comparison (<, <=, >, >=, ==, !=) at position %(position)d, found %(found)s.")
MSG_CHAINED = gettext_noop(
    "Chained comparison at position %(position)d; join the two comparisons with 'and' (e.g. 18 <= age and age < 30)."
)
MSG_NO_FEATURE = gettext_noop("The comparison at position %(position)d compares two numbers; name a feature.")
MSG_UNCLOSED = gettext_noop("The parenthesis opened at position %(position)d is never closed.")
MSG_UNEXPECTED = gettext_noop("Unexpected %(found)s at position %(position)d.")
MSG_END = gettext_noop("the end of the rule")
MSG_MISSING_COLUMN = gettext_noop("The features lack %(found)s, which the rule uses.")


class RuleError(ValueError):
    """A rule that cannot be used, with a message for the analyst.

    ``position`` is the 1-based character the problem starts at (None when
    the problem is the whole rule); ``template`` and ``params`` let a form
    show the message translated: ``gettext(e.template) % e.params``.
    """

    def __init__(self, template: str, position: int | None = None, **params: Any) -> None:
        self.template = template
        self.position = position
        self.params = {"position": position, **params}
        super().__init__(template % self.params)

    @property
    def message(self) -> str:
        return str(self)


# --- syntax tree -------------------------------------------------------------


@dataclass(frozen=True)
class Feature:
    name: str


@dataclass(frozen=True)
class Number:
    value: Decimal


@dataclass(frozen=True)
class Compare:
    left: Feature | Number
    op: str
    right: Feature | Number


@dataclass(frozen=True)
class And:
    parts: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    parts: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    part: Node


Node = Compare | And | Or | Not


# --- tokeniser ---------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    kind: str  # "name", "number", "op", "(", ")", "-", "+", "end"; keywords are their own kind
    text: str
    position: int  # 1-based


_TOKEN = re.compile(
    r"(?P<space>\s+)"
    r"|(?P<number>(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?[\w.]*)"
    r"|(?P<name>[A-Za-z_]\w*)"
    r"|(?P<op><=|>=|==|!=|<|>)"
    r"|(?P<punct>[()+-])"
)


def _tokens(text: str) -> list[Token]:
    tokens: list[Token] = []
    at = 0
    while at < len(text):
        match = _TOKEN.match(text, at)
        position = at + 1
        if match is None:
            rest = text[at : at + 2]
            if rest.startswith("="):
                raise RuleError(MSG_SINGLE_EQUALS, position)
            if rest in ("&&", "||") or rest[0] in "&|!":
                found = rest if rest in ("&&", "||") else rest[0]
                raise RuleError(MSG_SYMBOL_LOGIC, position, found=repr(found))
            raise RuleError(MSG_CHARACTER, position, found=repr(text[at]))
        kind = match.lastgroup
        value = match.group()
        if kind == "name":
            lowered = value.lower()
            tokens.append(Token(lowered if lowered in KEYWORDS else "name", lowered, position))
        elif kind == "number":
            tokens.append(Token("number", value, position))
        elif kind == "op":
            tokens.append(Token("op", value, position))
        elif kind == "punct":
            tokens.append(Token(value, value, position))
        at = match.end()
    tokens.append(Token("end", "", len(text) + 1))
    return tokens


def _number(token: Token) -> Decimal:
    try:
        value = Decimal(token.text.replace("_", ""))
    except InvalidOperation:
        raise RuleError(MSG_NUMBER, token.position, found=repr(token.text)) from None
    if not value.is_finite():
        raise RuleError(MSG_NUMBER, token.position, found=repr(token.text))
    # By the exponent first: abs() of 1e9999999 overflows Decimal's context (a server error), and
    # 1e-9999999 has more decimal places than PostgreSQL's numeric takes.
    if value and value.adjusted() >= MAX_DIGITS:
        raise RuleError(MSG_NUMBER_SIZE, token.position, found=repr(token.text))
    if value.as_tuple().exponent < -MAX_DIGITS:
        raise RuleError(MSG_NUMBER_PLACES, token.position, found=repr(token.text), places=MAX_DIGITS)
    if abs(value) >= MAX_MAGNITUDE:
        raise RuleError(MSG_NUMBER_SIZE, token.position, found=repr(token.text))
    return value


def _describe(token: Token) -> str:
    return MSG_END if token.kind == "end" else repr(token.text)


# --- parser ------------------------------------------------------------------


def _joined(kind: type[And] | type[Or], parts: list[Node]) -> Node:
    """One node for `parts`; "(a and b) and c" becomes And(a, b, c), so a rule
    and its printed form parse to the same tree."""
    if len(parts) == 1:
        return parts[0]
    flat: list[Node] = []
    for part in parts:
        flat.extend(part.parts if isinstance(part, kind) else (part,))
    return kind(tuple(flat))


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.at = 0
        self.depth = 0

    def peek(self) -> Token:
        return self.tokens[self.at]

    def take(self) -> Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def rule(self) -> Node:
        node = self.or_expr()
        token = self.peek()
        if token.kind != "end":
            raise RuleError(MSG_UNEXPECTED, token.position, found=_describe(token))
        return node

    def or_expr(self) -> Node:
        parts = [self.and_expr()]
        while self.peek().kind == "or":
            self.take()
            parts.append(self.and_expr())
        return _joined(Or, parts)

    def and_expr(self) -> Node:
        parts = [self.not_expr()]
        while self.peek().kind == "and":
            self.take()
            parts.append(self.not_expr())
        return _joined(And, parts)

    def not_expr(self) -> Node:
        token = self.peek()
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise RuleError(MSG_TOO_DEEP, token.position)
        try:
            if token.kind == "not":
                self.take()
                return Not(self.not_expr())
            if token.kind == "(":
                self.take()
                node = self.or_expr()
                closing = self.peek()
                if closing.kind != ")":
                    if closing.kind == "end":
                        raise RuleError(MSG_UNCLOSED, token.position)
                    raise RuleError(MSG_UNEXPECTED, closing.position, found=_describe(closing))
                self.take()
                return node
            return self.comparison()
        finally:
            self.depth -= 1

    def comparison(self) -> Compare:
        start = self.peek()
        left = self.operand()
        operator = self.peek()
        if operator.kind != "op":
            raise RuleError(MSG_OPERATOR, operator.position, found=_describe(operator))
        self.take()
        right = self.operand()
        if self.peek().kind == "op":
            raise RuleError(MSG_CHAINED, self.peek().position)
        if isinstance(left, Number) and isinstance(right, Number):
            raise RuleError(MSG_NO_FEATURE, start.position)
        return Compare(left, operator.text, right)

    def operand(self) -> Feature | Number:
        token = self.take()
        if token.kind == "name":
            if token.text not in ALLOWED_FEATURES:
                close = difflib.get_close_matches(token.text, sorted(ALLOWED_FEATURES), n=1, cutoff=0.6)
                if close:
                    raise RuleError(MSG_UNKNOWN_HINT, token.position, found=repr(token.text), suggestion=repr(close[0]))
                raise RuleError(MSG_UNKNOWN, token.position, found=repr(token.text))
            return Feature(token.text)
        if token.kind in ("-", "+") and self.peek().kind == "number":
            value = _number(self.take())
            return Number(-value if token.kind == "-" else value)
        if token.kind == "number":
            return Number(_number(token))
        raise RuleError(MSG_OPERAND, token.position, found=_describe(token))


# --- the rule ----------------------------------------------------------------


def _render(node: Node) -> str:
    if isinstance(node, Compare):
        return f"{_operand_text(node.left)} {node.op} {_operand_text(node.right)}"
    if isinstance(node, Not):
        inner = _render(node.part)
        return f"not {inner}" if isinstance(node.part, Compare | Not) else f"not ({inner})"
    if isinstance(node, And):
        return " and ".join(f"({_render(p)})" if isinstance(p, Or) else _render(p) for p in node.parts)
    return " or ".join(_render(p) for p in node.parts)


def _operand_text(operand: Feature | Number) -> str:
    return operand.name if isinstance(operand, Feature) else format(operand.value, "f")


def _features(node: Node) -> set[str]:
    if isinstance(node, Compare):
        return {o.name for o in (node.left, node.right) if isinstance(o, Feature)}
    if isinstance(node, Not):
        return _features(node.part)
    return set().union(*(_features(p) for p in node.parts))


_PREFIX = re.compile(r"(?:[A-Za-z_][A-Za-z0-9_]*\.)?")


@dataclass(frozen=True)
class Rule:
    """A parsed rule: `mask` for a frame, `to_sql` for a live count."""

    tree: Node

    def __str__(self) -> str:
        return _render(self.tree)

    @property
    def features(self) -> frozenset[str]:
        return frozenset(_features(self.tree))

    def mask(self, frame: pd.DataFrame) -> pd.Series:
        """True for the rows the rule definitely holds for (missing values: not)."""
        absent = sorted(self.features - set(frame.columns))
        if absent:
            raise RuleError(MSG_MISSING_COLUMN, None, found=", ".join(absent))
        columns = {
            name: pd.to_numeric(frame[name], errors="coerce").astype("float64").astype("Float64")
            for name in self.features
        }
        result = _evaluate(self.tree, columns, frame.index)
        return result.fillna(False).astype(bool)

    def to_sql(self, column_prefix: str = "f.") -> tuple[str, list[Decimal]]:
        """A parameterised WHERE fragment (psycopg ``%s`` placeholders).

        Feature names come from the allow-list only and numbers travel as
        parameters, so the fragment is safe to splice into a query.
        """
        if _PREFIX.fullmatch(column_prefix) is None:
            raise ValueError(f"Not a table alias: {column_prefix!r}.")
        params: list[Decimal] = []
        return _sql(self.tree, column_prefix, params), params


def _evaluate(node: Node, columns: dict[str, pd.Series], index: pd.Index) -> pd.Series:
    # Nullable booleans give SQL's three-valued logic (unknown and false is
    # false, unknown or true is true, not unknown is unknown).
    if isinstance(node, Compare):
        left, right = (columns[o.name] if isinstance(o, Feature) else float(o.value) for o in (node.left, node.right))
        if not isinstance(left, pd.Series):
            # a number on the left: flip the comparison so a Series leads
            flipped = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}[node.op]
            left, right, op = right, left, flipped
        else:
            op = node.op
        result = {
            "<": left.lt,
            "<=": left.le,
            ">": left.gt,
            ">=": left.ge,
            "==": left.eq,
            "!=": left.ne,
        }[op](right)
        return result.astype("boolean")
    if isinstance(node, Not):
        return ~_evaluate(node.part, columns, index)
    parts = [_evaluate(p, columns, index) for p in node.parts]
    combined = parts[0]
    for part in parts[1:]:
        combined = (combined & part) if isinstance(node, And) else (combined | part)
    return combined


def _sql(node: Node, prefix: str, params: list[Decimal]) -> str:
    if isinstance(node, Compare):
        sides = []
        for operand in (node.left, node.right):
            if isinstance(operand, Feature):
                if operand.name not in ALLOWED_FEATURES:  # the parser guarantees it; a tree built by hand may not
                    raise ValueError(f"Not a feature: {operand.name!r}.")
                sides.append(f"{prefix}{operand.name}")
            else:
                params.append(operand.value)
                sides.append("%s")
        return f"{sides[0]} {OPERATORS[node.op]} {sides[1]}"
    if isinstance(node, Not):
        return f"NOT ({_sql(node.part, prefix, params)})"
    joiner = " AND " if isinstance(node, And) else " OR "
    return "(" + joiner.join(_sql(p, prefix, params) for p in node.parts) + ")"


def parse_rule(text: str) -> Rule:
    """Parse an analyst's condition; RuleError says what is wrong and where."""
    if text is None or not str(text).strip():
        raise RuleError(MSG_EMPTY)
    text = str(text)
    if len(text) > MAX_LENGTH:
        raise RuleError(MSG_TOO_LONG, None, length=len(text), limit=MAX_LENGTH)
    return Rule(_Parser(_tokens(text)).rule())
