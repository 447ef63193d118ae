"""age public keys (recipients), checked before anything is encrypted for them.

    recipient_problem(text) -> str | None   why ``text`` is not a usable age recipient

An age public key is ``age1`` followed by the Bech32 encoding (lower case, with its
checksum) of 32 bytes. The placeholder of ``.sops.yaml.example`` is a well-formed key
that nobody holds the identity for: encrypting for it locks everyone out, so it is
refused by name. Pure: no I/O.
"""

from __future__ import annotations

#: The example recipient shipped in .sops.yaml.example (a valid key nobody can open).
PLACEHOLDER = "age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq"

_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_GENERATOR = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
_HRP = "age"
_KEY_BYTES = 32


def _polymod(values: list[int]) -> int:
    checksum = 1
    for value in values:
        top = checksum >> 25
        checksum = (checksum & 0x1FFFFFF) << 5 ^ value
        for i, generator in enumerate(_GENERATOR):
            if (top >> i) & 1:
                checksum ^= generator
    return checksum


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _payload_bytes(data: list[int]) -> int | None:
    """The number of bytes the 5-bit groups decode to, None when the padding is not zero."""
    bits = len(data) * 5
    whole, rest = divmod(bits, 8)
    if rest >= 5:
        return None
    accumulator = 0
    for value in data:
        accumulator = (accumulator << 5) | value
    if accumulator & ((1 << rest) - 1):
        return None
    return whole


def recipient_problem(text: str) -> str | None:
    """Why ``text`` cannot be an age recipient to encrypt secrets for; None when it can."""
    if text == PLACEHOLDER:
        return ("is the placeholder of .sops.yaml.example, a key nobody holds: put your own "
                "age public key there (`age-keygen -y KEY_FILE` prints it)")
    if not text.startswith(f"{_HRP}1"):
        return "is not an age public key (age1...)"
    if text != text.lower():
        return "is not an age public key (age keys are lower case)"
    data_part = text[len(_HRP) + 1:]
    if len(data_part) < 7 or any(c not in _CHARSET for c in data_part):
        return "is not an age public key (not Bech32)"
    data = [_CHARSET.index(c) for c in data_part]
    if _polymod(_hrp_expand(_HRP) + data) != 1:
        return "is not an age public key (its checksum is wrong: a typo?)"
    if _payload_bytes(data[:-6]) != _KEY_BYTES:
        return "is not an age public key (wrong length)"
    return None
