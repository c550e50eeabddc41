"""`--where`: a small filter language over merchant record fields, compiled to safe SQL.

    country = 'US' and mcc in ('5993', '5999')
    monthly_volume_usd >= 10000 and not (dispute_rate < 0.01 or refund_rate is null)
    dba like '%vape%'

Only the record fields in FIELDS may be named; values are quoted strings ('' for a quote)
or numbers, and are bound as parameters: nothing the user types becomes SQL text.
Operators: = != <> < <= > >=, in (...), not in (...), like, is null, is not null, and,
or, not, parentheses. A comparison on a missing field is false (SQL's NULL rules).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import LarkError, VisitError
from sqlalchemy import ColumnElement, and_, not_, or_
from sqlalchemy.sql.elements import ColumnElement as Column

from merchant_review.storage.schema import MerchantRow

TEXT_FIELDS = (
    "legal_name", "dba", "country", "mcc", "business_description", "created_at",
)  # fmt: skip
NUMBER_FIELDS = ("monthly_volume_usd", "dispute_rate", "refund_rate")
FIELDS = ("merchant_id", "website", *TEXT_FIELDS, *NUMBER_FIELDS)

GRAMMAR = r"""
?start: disjunction
?disjunction: conjunction (_OR conjunction)*
?conjunction: negation (_AND negation)*
?negation: _NOT negation -> negate
         | atom
?atom: comparison | "(" disjunction ")"
comparison: NAME OP value                      -> compare
          | NAME _IN "(" values ")"            -> member
          | NAME _NOT _IN "(" values ")"       -> not_member
          | NAME _LIKE STRING                  -> like
          | NAME _IS _NULL                     -> is_null
          | NAME _IS _NOT _NULL                -> is_not_null
values: value ("," value)*
?value: STRING -> string
      | NUMBER -> number
OP: "!=" | "<>" | "<=" | ">=" | "=" | "<" | ">"
_OR.2: /or\b/i
_AND.2: /and\b/i
_NOT.2: /not\b/i
_IN.2: /in\b/i
_LIKE.2: /like\b/i
_IS.2: /is\b/i
_NULL.2: /null\b/i
NAME: /[A-Za-z_][A-Za-z0-9_]*/
STRING: /'(?:[^']|'')*'/
NUMBER: /-?\d+(\.\d+)?/
%import common.WS
%ignore WS
"""

MAX_LENGTH = 2000


class FilterError(ValueError):
    """The --where expression is not valid; the message says where and why."""


@cache
def _parser() -> Lark:
    return Lark(GRAMMAR, parser="lalr")


def _field(name: Token) -> tuple[Column[Any], bool]:
    """The SQL expression of a record field, and whether it is numeric."""
    key = str(name).lower()
    if key not in FIELDS:
        raise FilterError(f"unknown field {name!s}: use one of {', '.join(FIELDS)}")
    if key in ("merchant_id", "website"):
        return getattr(MerchantRow, key), False
    if key in NUMBER_FIELDS:
        return MerchantRow.record[key].as_float(), True
    return MerchantRow.record[key].as_string(), False


def _typed(value: str | float, numeric: bool, name: Token) -> str | float:
    if numeric != isinstance(value, float):
        kind = "a number" if numeric else "a quoted string"
        raise FilterError(f"{name!s} is compared with {kind}, not {value!r}")
    return value


_COMPARE: dict[str, Callable[[Column[Any], Any], ColumnElement[bool]]] = {
    "=": lambda c, v: c == v,
    "!=": lambda c, v: c != v,
    "<>": lambda c, v: c != v,
    "<": lambda c, v: c < v,
    "<=": lambda c, v: c <= v,
    ">": lambda c, v: c > v,
    ">=": lambda c, v: c >= v,
}


@v_args(inline=True)
class _ToSql(Transformer[Token, ColumnElement[bool]]):
    def string(self, token: Token) -> str:
        return str(token)[1:-1].replace("''", "'")

    def number(self, token: Token) -> float:
        return float(token)

    def values(self, *items: str | float) -> list[str | float]:
        return list(items)

    def compare(self, name: Token, op: Token, value: str | float) -> ColumnElement[bool]:
        column, numeric = _field(name)
        return _COMPARE[str(op)](column, _typed(value, numeric, name))

    def member(self, name: Token, values: list[str | float]) -> ColumnElement[bool]:
        column, numeric = _field(name)
        return column.in_([_typed(v, numeric, name) for v in values])

    def not_member(self, name: Token, values: list[str | float]) -> ColumnElement[bool]:
        column, numeric = _field(name)
        return column.not_in([_typed(v, numeric, name) for v in values])

    def like(self, name: Token, pattern: Token) -> ColumnElement[bool]:
        column, numeric = _field(name)
        if numeric:
            raise FilterError(f"{name!s} is a number: like needs a text field")
        return column.like(self.string(pattern))

    def is_null(self, name: Token) -> ColumnElement[bool]:
        return _field(name)[0].is_(None)

    def is_not_null(self, name: Token) -> ColumnElement[bool]:
        return _field(name)[0].is_not(None)

    def negate(self, inner: ColumnElement[bool]) -> ColumnElement[bool]:
        return not_(inner)

    def conjunction(self, *parts: ColumnElement[bool]) -> ColumnElement[bool]:
        return and_(*parts)

    def disjunction(self, *parts: ColumnElement[bool]) -> ColumnElement[bool]:
        return or_(*parts)


def compile_where(expression: str) -> ColumnElement[bool]:
    """The SQL condition on `merchants` for a --where expression (FilterError if invalid)."""
    if len(expression) > MAX_LENGTH:
        raise FilterError(f"the --where expression is longer than {MAX_LENGTH} characters")
    try:
        tree = _parser().parse(expression)
        condition = _ToSql().transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, FilterError):
            raise exc.orig_exc from None
        raise FilterError(f"invalid --where expression: {exc.orig_exc}") from exc
    except LarkError as exc:
        raise FilterError(f"invalid --where expression: {_first_line(exc)}") from exc
    if not isinstance(condition, ColumnElement):  # a bare value, e.g. "'US'"
        raise FilterError("invalid --where expression: expected a comparison")
    return condition


def _first_line(exc: Exception) -> str:
    lines = [line for line in str(exc).splitlines() if line.strip()]
    return " ".join(lines[:3])
