"""Errors raised by the cost engine on bad input. Each names what is wrong so callers can answer with a 4xx."""
from __future__ import annotations


class CostEngineError(ValueError):
    """Base class: bad input to the cost engine. ``field`` names the offending input when known."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class CalibrationDataError(CostEngineError):
    """Malformed or partial calibration data (IBM properties JSON, our own JSON, a backend object)."""


class QasmParseError(CostEngineError):
    """Unparsable OpenQASM 2/3. Carries the parser's line and column where it reports them."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        where = f" (line {line}, column {column})" if line is not None else ""
        super().__init__(f"invalid OpenQASM{where}: {message}", field="qasm")
        self.line = line
        self.column = column


class CircuitTooLargeError(CostEngineError):
    """The circuit does not fit the device (more qubits than it has) or a configured limit."""


class ConfigError(CostEngineError):
    """An invalid option, genome or search configuration."""


def dataclass_fields(cls, data, what: str, field: str) -> dict:
    """``data`` checked to be an object holding only fields of the dataclass ``cls`` (a copy). Raises ConfigError
    naming ``field`` when it is not an object, or the first unknown key."""
    import dataclasses

    if not isinstance(data, dict):
        raise ConfigError(f"{what} must be a JSON object", field=field)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"unknown {what} field(s) {unknown}; allowed: {sorted(names)}", field=unknown[0])
    return dict(data)
