"""An incremental, byte-level validator for one JSON object: is this prefix still the start of one?

    >>> state = feed(START_STATE, b'{"a": [1, tr')
    >>> state is not None, closing_len(state)     # 'ue]}' closes it
    (True, 4)
    >>> feed(state, b'x') is None                 # 'trx' can never become JSON
    True
    >>> is_complete(feed(state, b'ue]}'))
    True

A state is an immutable tuple `(mode, stack, aux)`: `mode` says what may come next, `stack` holds
the open brackets ('{' or '['), `aux` is mode-specific (a string's role as key or value, the rest
of a literal like `true`, the hex digits still owed by a `\\u` escape). Immutable, so the
constraint can try a candidate token's bytes on a state and keep or drop the result for free.

It works on bytes, not characters, because byte-level BPE tokens split multi-byte UTF-8
characters: every structural byte of JSON is ASCII, and any byte ≥ 0x80 may appear only inside a
string, where the full decoded text reads it back as part of the string (an incomplete sequence
decodes as U+FFFD, still a legal string character). Control bytes (< 0x20) are refused inside
strings, as strict JSON parsers do.

`closing_len(state)` is the length of the shortest suffix that completes the object (every byte
of it ASCII), so a caller with one-byte tokens for those bytes knows how many tokens closing costs.
"""

from __future__ import annotations

(START, OBJ_FIRST, OBJ_KEY, AFTER_KEY, VALUE, ARRAY_FIRST, AFTER_VALUE,
 STRING, ESCAPE, UNICODE, LITERAL, DONE) = range(12)
# Numbers: after '-', after a leading 0, in integer digits, after '.', in fraction digits, after
# 'e', after the exponent's sign, in exponent digits.
N_MINUS, N_ZERO, N_INT, N_DOT, N_FRAC, N_EXP, N_EXP_SIGN, N_EXP_DIGITS = range(12, 20)

State = tuple[int, str, object]
START_STATE: State = (START, "", None)

_WS = frozenset(b" \t\n\r")
_DIGITS = frozenset(b"0123456789")
_HEX = frozenset(b"0123456789abcdefABCDEF")
_ESCAPES = frozenset(b'"\\/bfnrtu')
_LITERALS = {ord("t"): b"rue", ord("f"): b"alse", ord("n"): b"ull"}
_NUMBER_END = frozenset({N_ZERO, N_INT, N_FRAC, N_EXP_DIGITS})
# Shortest completion of the current token/mode, before the open brackets are closed.
_CLOSE = {START: 2, OBJ_FIRST: 0, OBJ_KEY: 4, AFTER_KEY: 2, VALUE: 1, ARRAY_FIRST: 0, AFTER_VALUE: 0,
          DONE: 0, N_MINUS: 1, N_ZERO: 0, N_INT: 0, N_DOT: 1, N_FRAC: 0, N_EXP: 1, N_EXP_SIGN: 1, N_EXP_DIGITS: 0}


def _value_start(stack: str, b: int) -> State | None:
    """A value begins with byte b."""
    if b == 0x22:  # "
        return (STRING, stack, "value")
    if b == 0x7B:  # {
        return (OBJ_FIRST, stack + "{", None)
    if b == 0x5B:  # [
        return (ARRAY_FIRST, stack + "[", None)
    if b == 0x2D:  # -
        return (N_MINUS, stack, None)
    if b == 0x30:
        return (N_ZERO, stack, None)
    if b in _DIGITS:
        return (N_INT, stack, None)
    if b in _LITERALS:
        return (LITERAL, stack, _LITERALS[b])
    return None


def _after_value(stack: str, b: int) -> State | None:
    """Byte b follows a complete value."""
    if b in _WS:
        return (AFTER_VALUE, stack, None)
    top = stack[-1]
    if b == 0x2C:  # ,
        return (OBJ_KEY if top == "{" else VALUE, stack, None)
    if (b == 0x7D and top == "{") or (b == 0x5D and top == "["):
        rest = stack[:-1]
        return (AFTER_VALUE, rest, None) if rest else (DONE, "", None)
    return None


def _step(state: State, b: int) -> State | None:
    mode, stack, aux = state
    if mode == STRING:
        if b == 0x22:
            return (AFTER_KEY, stack, None) if aux == "key" else _closed_value(stack)
        if b == 0x5C:  # backslash
            return (ESCAPE, stack, aux)
        return state if b >= 0x20 else None
    if mode == ESCAPE:
        if b not in _ESCAPES:
            return None
        return (UNICODE, stack, (aux, 4)) if b == 0x75 else (STRING, stack, aux)
    if mode == UNICODE:
        role, left = aux
        if b not in _HEX:
            return None
        return (UNICODE, stack, (role, left - 1)) if left > 1 else (STRING, stack, role)
    if mode == LITERAL:
        if b != aux[0]:
            return None
        return (LITERAL, stack, aux[1:]) if len(aux) > 1 else _closed_value(stack)
    if mode >= N_MINUS:
        nxt = _number_step(mode, b)
        if nxt is not None:
            return (nxt, stack, None)
        return _after_value(stack, b) if mode in _NUMBER_END else None
    if b in _WS:
        return state
    if mode == START:
        return (OBJ_FIRST, "{", None) if b == 0x7B else None
    if mode == OBJ_FIRST and b == 0x7D:
        return _closed_value(stack[:-1]) if stack[:-1] else (DONE, "", None)
    if mode in (OBJ_FIRST, OBJ_KEY):
        return (STRING, stack, "key") if b == 0x22 else None
    if mode == AFTER_KEY:
        return (VALUE, stack, None) if b == 0x3A else None
    if mode == ARRAY_FIRST and b == 0x5D:
        return _closed_value(stack[:-1]) if stack[:-1] else (DONE, "", None)
    if mode in (VALUE, ARRAY_FIRST):
        return _value_start(stack, b)
    if mode == AFTER_VALUE:
        return _after_value(stack, b)
    return None  # DONE: only whitespace, handled above


def _closed_value(stack: str) -> State:
    return (AFTER_VALUE, stack, None) if stack else (DONE, "", None)


def _number_step(mode: int, b: int) -> int | None:
    digit = b in _DIGITS
    if mode == N_MINUS:
        return N_ZERO if b == 0x30 else N_INT if digit else None
    if mode in (N_ZERO, N_INT):
        if digit and mode == N_INT:
            return N_INT
        if b == 0x2E:
            return N_DOT
        return N_EXP if b in (0x65, 0x45) else None
    if mode in (N_DOT, N_FRAC):
        if digit:
            return N_FRAC
        return N_EXP if mode == N_FRAC and b in (0x65, 0x45) else None
    if mode in (N_EXP, N_EXP_SIGN):
        return N_EXP_DIGITS if digit else N_EXP_SIGN if mode == N_EXP and b in (0x2B, 0x2D) else None
    return N_EXP_DIGITS if digit else None  # N_EXP_DIGITS


def feed(state: State, data: bytes) -> State | None:
    """The state after `data`, or None if no continuation can make it one JSON object."""
    for b in data:
        state = _step(state, b)
        if state is None:
            return None
    return state


def closing_len(state: State) -> int:
    """Bytes in the shortest suffix that completes the object (all ASCII: '"', ':', '0', '}', ']', letters)."""
    mode, stack, aux = state
    if mode == STRING:
        tail = 3 if aux == "key" else 1  # '":0' or '"'
    elif mode == ESCAPE:
        tail = 1 + (3 if aux == "key" else 1)
    elif mode == UNICODE:
        role, left = aux
        tail = left + (3 if role == "key" else 1)
    elif mode == LITERAL:
        tail = len(aux)
    else:
        tail = _CLOSE[mode]
    return tail + len(stack)


def in_string(state: State) -> bool:
    """Inside a string (where whitespace is content, not layout)."""
    return state[0] in (STRING, ESCAPE, UNICODE)


def is_complete(state: State | None) -> bool:
    """One whole JSON object has been read (trailing whitespace allowed)."""
    return state is not None and state[0] == DONE
