"""G.711 μ-law (PCMU), the codec every SIP phone and gateway accepts: 16-bit linear samples to one byte each.

Written here rather than taken from `audioop`: that module is deprecated in Python 3.11 and gone in 3.13, and
`audioop-lts` would be a dependency for thirty lines. The encoding is the reference one (Sun's g711.c, which audioop
also uses: the sample's top 14 bits, a bias of 33, eight segments), precomputed for all 65,536 samples so encoding a
prompt is one table look-up per sample.
"""

from __future__ import annotations

import sys
from array import array

SILENCE = 0xFF  # μ-law code of a zero sample
_BIAS = 0x84 >> 2  # on 14-bit samples
_CLIP = 8159


def _encode(sample: int) -> int:
    """One signed 16-bit sample to its μ-law code (ones' complement of sign, segment and step)."""
    linear = sample >> 2  # G.711 μ-law works on 14 bits
    mask = 0x7F if linear < 0 else 0xFF
    magnitude = min(abs(linear), _CLIP) + _BIAS
    segment = magnitude.bit_length() - 6  # 33..63 -> 0, 64..127 -> 1, ... 4096..8191 -> 7
    if segment > 7:
        return 0x7F ^ mask
    return ((segment << 4) | ((magnitude >> (segment + 1)) & 0x0F)) ^ mask


# Indexed by the sample read as unsigned 16 bits: 0..32767 are themselves, 32768..65535 are -32768..-1.
_TABLE = bytes(_encode(unsigned - 0x10000 if unsigned & 0x8000 else unsigned) for unsigned in range(0x10000))


def ulaw(pcm: bytes) -> bytes:
    """Signed 16-bit little-endian samples (a WAV file's data) as μ-law bytes, one per sample."""
    samples = array("H")
    samples.frombytes(pcm)
    if sys.byteorder == "big":  # the file's samples are little-endian
        samples.byteswap()
    return bytes(map(_TABLE.__getitem__, samples))
