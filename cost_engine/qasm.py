"""OpenQASM 2 and 3 input with errors that carry the parser's line and column."""
from __future__ import annotations

import re

from .errors import CostEngineError, QasmParseError

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


class QasmLimitError(QasmParseError):
    """The program exceeds a configured limit (found before or right after parsing). ``limit`` names the
    setting (``HANAS_MAX_CIRCUIT_QUBITS`` / ``_GATES`` / ``_BYTES`` / nesting depth)."""

    def __init__(self, message: str, limit: str):
        CostEngineError.__init__(self, message, field="qasm")
        self.line = self.column = None
        self.limit = limit


# Only the standard library may be included: qiskit's built-in qelib1.inc (OpenQASM 2) and stdgates.inc
# (OpenQASM 3). The OpenQASM 2 parser gets an empty include search path, so it can never open a file.
ALLOWED_INCLUDES = {"qelib1.inc", "stdgates.inc"}
MAX_NESTING_DEPTH = 64  # brackets of any kind; the OpenQASM 3 (ANTLR) parser took 11.9 s on 5,000 parentheses
# Tokens in one statement: a flat 100,000-term sum took the OpenQASM 3 parser 10 s (then hit the recursion limit);
# a barrier naming 156 qubits one by one is ~800 tokens.
MAX_STATEMENT_TOKENS = 4096

_TOKEN = re.compile(r'//[^\n]*|/\*.*?(?:\*/|\Z)|"[^"\n]*"?|\$\d+|[A-Za-z_][A-Za-z0-9_]*|\d[0-9A-Za-z_.]*|\S', re.S)
_OPEN, _CLOSE = "([{", ")]}"
_DECL_SKIP = {"OPENQASM", "include", "gate", "opaque", "def", "defcal", "cal", "defcalgrammar", "const", "input",
              "output", "qreg", "creg", "qubit", "bit", "let", "extern"}


def _int_literal(tok: str) -> int | None:
    if not tok[:1].isdigit():
        return None
    for base in (0, 10):  # 0x.., 0b.., 0o.., 1_000; then decimals with leading zeros
        try:
            return int(tok.replace("_", ""), base)
        except ValueError:
            continue
    return None


def _tokens(text: str) -> list[str]:
    return [t for t in _TOKEN.findall(text) if not t.startswith(("//", "/*"))]


def check_limits(text: str, *, max_qubits: int | None = None, max_gates: int | None = None,
                 max_bytes: int | None = None, max_depth: int = MAX_NESTING_DEPTH) -> dict:
    """Cheap checks on the source text before any parser allocates anything: size, bracket nesting, the
    includes, declared register widths (``qreg``/``creg``, ``qubit[n]``/``bit[n]``, hardware ``$n``) and an upper
    bound of the operations (a statement on a whole register counts its width). Raises QasmLimitError /
    QasmParseError naming the limit or the include; returns what it counted."""
    size = len(text.encode())
    if max_bytes is not None and size > max_bytes:
        raise QasmLimitError(f"circuit is {size} bytes; the limit is HANAS_MAX_CIRCUIT_BYTES={max_bytes}",
                             "HANAS_MAX_CIRCUIT_BYTES")
    toks = _tokens(text)
    depth = deepest = 0
    for t in toks:
        if t in _OPEN:
            depth += 1
            if depth > max_depth:
                raise QasmLimitError(f"brackets nest deeper than {max_depth} levels; the limit is the nesting depth "
                                     f"{max_depth}", "nesting depth")
        elif t in _CLOSE:
            depth = max(depth - 1, 0)
        deepest = max(deepest, depth)
    qubits, clbits, widths, hardware = 0, 0, {}, -1
    n = len(toks)
    for i, t in enumerate(toks):
        if t == "include" and i + 1 < n:
            name = toks[i + 1].strip('"')
            if name not in ALLOWED_INCLUDES:
                raise QasmParseError(f"include {name!r} is not allowed; only the standard library "
                                     f"(qelib1.inc for OpenQASM 2, stdgates.inc for OpenQASM 3) may be included")
            continue
        elif t.startswith("$") and len(t) > 1:
            hardware = max(hardware, int(t[1:]))
            continue
        elif t in ("qreg", "creg") and i + 4 < n and toks[i + 2] == "[":
            width, reg = _int_literal(toks[i + 3]), toks[i + 1]
        elif t in ("qubit", "bit") and i + 1 < n and (i == 0 or toks[i - 1] in (";", "{", "}")):
            if toks[i + 1] == "[":
                width = _int_literal(toks[i + 2]) if i + 3 < n and toks[i + 3] == "]" else None
                reg = toks[i + 4] if i + 4 < n else ""
            else:
                width, reg = 1, toks[i + 1]
        else:
            continue
        if width is None:
            raise QasmLimitError(f"the register width of {reg!r} must be an integer literal", "register width")
        widths[reg] = width
        if t in ("qreg", "qubit"):
            qubits += width
        else:
            clbits += width
    qubits = max(qubits, hardware + 1)
    if max_qubits is not None and qubits > max_qubits:
        raise QasmLimitError(f"circuit declares {qubits} qubits; the limit is HANAS_MAX_CIRCUIT_QUBITS={max_qubits}",
                             "HANAS_MAX_CIRCUIT_QUBITS")
    if max_gates is not None and clbits > max(max_gates, max_qubits or 0):
        raise QasmLimitError(f"circuit declares {clbits} classical bits; the limit is HANAS_MAX_CIRCUIT_GATES="
                             f"{max_gates}", "HANAS_MAX_CIRCUIT_GATES")
    # upper bound of the operations: every statement is one, or the width of a whole register it names
    ops, stmt = 0, []
    for t in toks + [";"]:
        if t in (";", "{", "}"):
            if len(stmt) > MAX_STATEMENT_TOKENS:
                raise QasmLimitError(f"a statement has {len(stmt)} tokens; the limit is the statement length "
                                     f"{MAX_STATEMENT_TOKENS}", "statement length")
            if stmt and stmt[0] not in _DECL_SKIP:
                start = stmt.index(")") + 1 if stmt[0] == "if" and ")" in stmt else 0
                bare = [widths[s] for j, s in enumerate(stmt[start:], start)
                        if s in widths and (j + 1 >= len(stmt) or stmt[j + 1] != "[")]
                ops += max(bare, default=1)
                if max_gates is not None and ops > max_gates:
                    raise QasmLimitError(f"circuit has more than {max_gates} operations; the limit is "
                                         f"HANAS_MAX_CIRCUIT_GATES={max_gates}", "HANAS_MAX_CIRCUIT_GATES")
            stmt = []
        else:
            stmt.append(t)
    return {"bytes": size, "depth": deepest, "qubits": qubits, "clbits": clbits, "operations_bound": ops}


_LEAVES = {"measure", "reset", "barrier", "delay"}


def _standard_names() -> set[str]:
    from qiskit.circuit.library import get_standard_gate_name_mapping

    return set(get_standard_gate_name_mapping()) | _LEAVES


def check_circuit(qc, *, max_gates: int | None = None) -> int:
    """After parsing: every gate parameter finite, and the operations after expanding user gate definitions
    (what the compiler will unroll) within ``max_gates``. Each distinct user gate (name, width, parameters) is
    expanded once (memoised), so nested definitions that double at every level cost linear work, not 2**depth.
    Returns the expanded count."""
    import math

    standard = _standard_names()
    limit = math.inf if max_gates is None else max_gates
    memo: dict = {}

    def over(count):
        return QasmLimitError(f"circuit has more than {max_gates} operations once its gate definitions are expanded "
                              f"({count}); the limit is HANAS_MAX_CIRCUIT_GATES={max_gates}",
                              "HANAS_MAX_CIRCUIT_GATES")

    def expand(op):
        """(memo key or None, children [(op, repetitions)] or None for an operation counted as one)."""
        for p in getattr(op, "params", ()):
            if isinstance(p, (int, float)) and not isinstance(p, bool) and not math.isfinite(p):
                raise QasmParseError(f"gate {op.name} has a non-finite parameter ({p}); parameters must be finite")
        blocks = getattr(op, "blocks", None)
        if blocks:
            reps = (len(op.params[0]) if op.name == "for_loop" and op.params and hasattr(op.params[0], "__len__")
                    else 1)
            return None, [(inst.operation, reps) for block in blocks for inst in block.data]
        definition = None if op.name in standard else getattr(op, "definition", None)
        if definition is None:
            return None, None
        key = (op.name, op.num_qubits, op.num_clbits, tuple(repr(p) for p in op.params))
        return key, [(inst.operation, 1) for inst in definition.data]

    # iterative post-order walk: frames are [memo key, children, next child index, total, repetitions]
    stack = [[None, [(inst.operation, 1) for inst in qc.data], 0, 0, 1]]
    # visits are bounded too: distinct parameters defeat the memo, and empty gates add nothing to the totals
    budget, visits = (math.inf if max_gates is None else 4 * max_gates + len(qc.data) + 1000), 0
    # building a user gate's definition costs ~0.15 ms: distinct (gate, parameters) expansions are capped as well
    max_builds, builds = (math.inf if max_gates is None else max_gates // 4 + 1000), 0
    while True:
        frame = stack[-1]
        key, kids, i = frame[0], frame[1], frame[2]
        if i == len(kids):
            stack.pop()
            if key is not None:
                memo[key] = frame[3]
            if not stack:
                break
            stack[-1][3] += frame[3] * frame[4]
            if stack[-1][3] > limit:
                raise over(stack[-1][3])
            continue
        frame[2] += 1
        visits += 1
        if visits > budget:
            raise QasmLimitError(f"gate definitions expand into more than {budget} operations to check; the limit "
                                 f"follows HANAS_MAX_CIRCUIT_GATES={max_gates}", "HANAS_MAX_CIRCUIT_GATES")
        op, reps = kids[i]
        cached = memo.get((op.name, op.num_qubits, op.num_clbits, tuple(repr(p) for p in op.params))) \
            if op.name not in standard and not getattr(op, "blocks", None) else None
        if cached is not None:
            frame[3] += cached * reps
        else:
            child_key, children = expand(op)
            if child_key is not None:
                builds += 1
                if builds > max_builds:
                    raise QasmLimitError(f"more than {max_builds} distinct gate definitions to expand; the limit "
                                         f"follows HANAS_MAX_CIRCUIT_GATES={max_gates}", "HANAS_MAX_CIRCUIT_GATES")
            if children is None:
                frame[3] += reps
            else:
                stack.append([child_key, children, 0, 0, reps])
        if frame[3] > limit:
            raise over(frame[3])
    return frame[3]


def load_qasm(text: str, *, max_qubits: int | None = None, max_gates: int | None = None,
              max_bytes: int | None = None, max_depth: int = MAX_NESTING_DEPTH):
    """Parse OpenQASM 2 (qelib1 gates) or 3 (by its header) into a QuantumCircuit. Limits (None: unchecked)
    are enforced on the text before parsing (``check_limits``) and on the circuit after it (``check_circuit``);
    includes other than the standard library are refused and no file is ever read."""
    from qiskit import qasm2, qasm3

    if not isinstance(text, str) or not text.strip():
        raise QasmParseError("empty program")
    check_limits(text, max_qubits=max_qubits, max_gates=max_gates, max_bytes=max_bytes, max_depth=max_depth)
    try:
        if is_qasm3(text):
            qc = qasm3.loads(text)
        else:
            qc = qasm2.loads(text, include_path=(), custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
    except Exception as exc:  # qiskit raises QASM2ParseError / QASM3ImporterError and friends
        line, col, detail = _position(exc)
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else (detail or type(exc).__name__)
        raise QasmParseError(message, line=line, column=col) from exc
    check_circuit(qc, max_gates=max_gates)
    if max_qubits is not None and qc.num_qubits > max_qubits:
        raise QasmLimitError(f"circuit has {qc.num_qubits} qubits; the limit is HANAS_MAX_CIRCUIT_QUBITS="
                             f"{max_qubits}", "HANAS_MAX_CIRCUIT_QUBITS")
    return qc


def circuit_hash(qc) -> str:
    from .quantum import circuit_hash as _hash

    return _hash(qc)
