"""OpenQASM 2 and 3 input with errors that carry the parser's line and column."""
from __future__ import annotations

import re

from .errors import QasmParseError

_POS = [re.compile(r"line\s+(\d+)\D+?col(?:umn)?\s+(\d+)", re.I), re.compile(r"<input>:(\d+),(\d+)"),
        re.compile(r"^\W*(\d+),(\d+):"),
        re.compile(r"(\d+):(\d+)")]


def _position(exc: Exception) -> tuple[int | None, int | None, str | None]:
    """Line and column (1-based line) from the parser's exception or anything it chains to."""
    seen, stack = set(), [exc]
    while stack:  # ANTLR (OpenQASM 3) keeps the position on the chained exception's offending token
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        token = getattr(e, "offendingToken", None)
        if token is not None and getattr(token, "line", None) is not None:
            return int(token.line), int(token.column), f"unexpected {token.text!r}"
        stack += [e.__cause__, e.__context__] + [a for a in getattr(e, "args", ()) if isinstance(a, BaseException)]
    for attr_l, attr_c in (("line", "col"), ("lineno", "colno"), ("line", "column")):
        line, col = getattr(exc, attr_l, None), getattr(exc, attr_c, None)
        if isinstance(line, int):
            return line, col if isinstance(col, int) else None, None
    text = str(exc)
    for pattern in _POS:
        m = pattern.search(text)
        if m:
            return int(m.group(1)), int(m.group(2)), None
    return None, None, None


def is_qasm3(text: str) -> bool:
    body = re.sub(r"//[^\n]*|/\*.*?\*/", "", text, flags=re.S).lstrip()
    return bool(re.match(r"OPENQASM\s+3", body))


def load_qasm(text: str):
    """Parse OpenQASM 2 (qelib1 gates) or 3 (by its header) into a QuantumCircuit."""
    from qiskit import qasm2, qasm3

    if not isinstance(text, str) or not text.strip():
        raise QasmParseError("empty program")
    try:
        if is_qasm3(text):
            return qasm3.loads(text)
        return qasm2.loads(text, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
    except Exception as exc:  # qiskit raises QASM2ParseError / QASM3ImporterError and friends
        line, col, detail = _position(exc)
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else (detail or type(exc).__name__)
        raise QasmParseError(message, line=line, column=col) from exc


def circuit_hash(qc) -> str:
    from .quantum import circuit_hash as _hash

    return _hash(qc)
