"""JUEL, as Camunda 7 users write it, rewritten to Python source for the restricted evaluator.

Covered: `${…}` / `#{…}` wrappers, composite text (`第${n}次`), `&& || !`, the word operators
`eq ne lt gt le ge div mod` (and `and or not`, already Python), `empty x`, `a ? b : c`, and the literals
`true false null`. Python text comes back unchanged, with its spacing, so diagrams may use either.

Private helper of ``engine.bpmn.camunda_text``; the evaluator provides `empty` and `concat`.
"""

from __future__ import annotations

import ast
import io
import tokenize
from typing import NamedTuple

_WORD_OPERATORS = {"eq": "==", "ne": "!=", "lt": "<", "gt": ">", "le": "<=", "ge": ">=", "div": "/", "mod": "%"}
_LITERALS = {"true": "True", "false": "False", "null": "None"}
_OPENING = {"(": ")", "[": "]", "{": "}"}
_UNARY = {"!", "not", "-", "empty"}


class _Token(NamedTuple):
    text: str
    kind: int
    start: int  # offsets into the source
    end: int


def to_python(text: str) -> str:
    """One JUEL or Python expression, or composite text with `${…}` parts, as a Python expression."""
    if _is_python(text):  # so translating twice is a no-op, and "${" inside a Python string stays text
        return text
    parts = _split_composite(text)
    expressions = [value for is_expression, value in parts if is_expression]
    literals = "".join(value for is_expression, value in parts if not is_expression)
    if not expressions:
        return _Source(text).render()
    if len(expressions) == 1 and not literals.strip():
        return _Source(expressions[0]).render()
    pieces = [f"({_Source(value).render()})" if is_expression else repr(value) for is_expression, value in parts]
    return f"concat({', '.join(pieces)})"


def _is_python(text: str) -> bool:
    try:
        ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        return False
    return True


def _split_composite(text: str) -> list[tuple[bool, str]]:
    """Text → (is_expression, text) parts; a `}` inside a string or nested braces does not end a part."""
    parts: list[tuple[bool, str]] = []
    literal_start = position = 0
    while position < len(text) - 1:
        if text[position] in "$#" and text[position + 1] == "{":
            end = _closing_brace(text, position + 2)
            if end is None:
                break  # unbalanced: left as it is, so compiling it reports the error
            if position > literal_start:
                parts.append((False, text[literal_start:position]))
            parts.append((True, text[position + 2:end]))
            literal_start = position = end + 1
        else:
            position += 1
    if literal_start < len(text):
        parts.append((False, text[literal_start:]))
    return parts


def _closing_brace(text: str, position: int) -> int | None:
    depth, quote = 0, None
    while position < len(text):
        char = text[position]
        if quote:
            if char == "\\":
                position += 1
            elif char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "{":
            depth += 1
        elif char == "}":
            if depth == 0:
                return position
            depth -= 1
        position += 1
    return None


class _Source:
    """The tokens of one expression and the rendering of any range of them to Python."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = _tokens(source)
        self.partner = self._pair_brackets()

    def render(self, lo: int = 0, hi: int | None = None) -> str:
        hi = len(self.tokens) if hi is None else hi
        if lo >= hi:
            return ""
        question = self._top_level(lo, hi, "?")
        colon = None if question is None else self._matching_colon(question + 1, hi)
        if colon is not None:  # JUEL's conditional binds loosest, and to the right: a ? b : c ? d : e
            return (f"({self.render(question + 1, colon)} if {self.render(lo, question)} "
                    f"else {self.render(colon + 1, hi)})")
        return self._sequence(lo, hi)

    def _sequence(self, lo: int, hi: int) -> str:
        out: list[str] = []
        previous_word = False  # whether the last piece was a word put in for a symbol (needs spacing)
        index = lo
        while index < hi:
            token = self.tokens[index]
            end, text, word = self._piece(index, lo, hi)
            gap = "" if index == lo else self.source[self.tokens[index - 1].end:token.start]
            if (not gap and out and (word or previous_word) and out[-1][-1:] not in ("(", "[", "{")
                    and text[:1] not in (")", "]", "}", ",")):
                gap = " "
            out += [gap, text]
            previous_word, index = word, end
        return "".join(out)

    def _piece(self, index: int, lo: int, hi: int) -> tuple[int, str, bool]:
        """(index after the piece, its Python text, whether it is a word standing for a symbol)."""
        token = self.tokens[index]
        after_operand = index > lo and self._ends_operand(index - 1)
        following = self.tokens[index + 1] if index + 1 < hi else None
        if token.text in _OPENING and index in self.partner:
            close = self.partner[index]
            return close + 1, token.text + self._inside(index, close) + self.tokens[close].text, False
        if (token.text in ("&", "|") and following is not None and following.text == token.text
                and following.start == token.end):
            return index + 2, "and" if token.text == "&" else "or", True
        if token.text == "!":  # "!=" is a single token, so this is JUEL's negation
            return index + 1, "not", True
        if token.kind == tokenize.NAME and not self._after_dot(index, lo):
            if token.text in _WORD_OPERATORS and after_operand:
                return index + 1, _WORD_OPERATORS[token.text], False
            if token.text in _LITERALS:
                return index + 1, _LITERALS[token.text], False
            if token.text == "empty" and not after_operand and following is not None:
                end = self._unary_end(index + 1, hi)
                return end, f"empty({self.render(index + 1, end)})", True
        return index + 1, token.text, False

    def _inside(self, open_index: int, close_index: int) -> str:
        """A bracket's content: each comma-separated item rendered alone (each may hold a conditional)."""
        out, start = [], open_index + 1
        for comma in [*self._commas(start, close_index), close_index]:
            if start < comma:
                out += [self.source[self.tokens[start - 1].end:self.tokens[start].start],
                        self.render(start, comma),
                        self.source[self.tokens[comma - 1].end:self.tokens[comma].start]]
            else:
                out.append(self.source[self.tokens[start - 1].end:self.tokens[comma].start])
            if comma != close_index:
                out.append(",")
            start = comma + 1
        return "".join(out)

    def _unary_end(self, index: int, hi: int) -> int:
        """End of the operand of a prefix operator: further prefixes, a value, then .name / [..] / (..)."""
        while index < hi and self.tokens[index].text in _UNARY:
            index += 1
        if index >= hi:
            return hi
        index = self.partner.get(index, index) + 1
        while index < hi:
            token = self.tokens[index]
            if token.text == "." and index + 1 < hi:
                index += 2
            elif token.text in ("[", "(") and index in self.partner:
                index = self.partner[index] + 1
            else:
                break
        return index

    def _ends_operand(self, index: int) -> bool:
        token = self.tokens[index]
        if token.kind in (tokenize.NUMBER, tokenize.STRING) or token.text in (")", "]", "}"):
            return True
        return (token.kind == tokenize.NAME and token.text not in _WORD_OPERATORS
                and token.text not in ("and", "or", "not", "in", "is", "if", "else", "empty"))

    def _after_dot(self, index: int, lo: int) -> bool:
        return index > lo and self.tokens[index - 1].text == "."  # obj.null is an attribute

    def _top_level(self, lo: int, hi: int, text: str) -> int | None:
        return next(iter(self._level(lo, hi, text)), None)

    def _commas(self, lo: int, hi: int) -> list[int]:
        return self._level(lo, hi, ",")

    def _level(self, lo: int, hi: int, text: str) -> list[int]:
        found, index = [], lo
        while index < hi:
            if self.tokens[index].text == text:
                found.append(index)
            index = self.partner.get(index, index) + 1
        return found

    def _matching_colon(self, lo: int, hi: int) -> int | None:
        depth, index = 0, lo
        while index < hi:
            text = self.tokens[index].text
            if text == "?":
                depth += 1
            elif text == ":":
                if depth == 0:
                    return index
                depth -= 1
            index = self.partner.get(index, index) + 1
        return None

    def _pair_brackets(self) -> dict[int, int]:
        partner, stack = {}, []
        for index, token in enumerate(self.tokens):
            if token.text in _OPENING:
                stack.append(index)
            elif token.text in _OPENING.values() and stack and _OPENING[self.tokens[stack[-1]].text] == token.text:
                partner[stack.pop()] = index
        return partner


def _tokens(source: str) -> list[_Token]:
    lines = [0] + [index + 1 for index, char in enumerate(source) if char == "\n"]
    tokens: list[_Token] = []
    skipped = (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER, tokenize.INDENT, tokenize.DEDENT,
               tokenize.COMMENT)
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type in skipped or not token.string.strip():
                continue
            start = lines[token.start[0] - 1] + token.start[1]
            tokens.append(_Token(token.string, token.type, start, lines[token.end[0] - 1] + token.end[1]))
    except (tokenize.TokenError, SyntaxError):
        pass  # unbalanced text: translate what was read; compiling it will report the syntax error
    if tokens and tokens[-1].end < len(source.rstrip()):
        tokens.append(_Token(source[tokens[-1].end:].strip(), tokenize.ERRORTOKEN, tokens[-1].end, len(source)))
    return tokens
