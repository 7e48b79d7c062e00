"""Which partition a customer belongs to: Kafka's default partitioner (murmur2 of the key, as
the Java client computes it), so that the core can name a customer's partition without a Kafka
client - the worker keys its topics with it, and state split by partition (the incentive
budget's pots) follows the customers.

>>> partition_of("nb-1c2d3e4f5a6b7c8d", 4) in range(4)
True
"""

from __future__ import annotations

import functools

_SEED = 0x9747B28C
_M = 0x5BD1E995
_MASK = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """MurmurHash2 (32 bit) as ``org.apache.kafka.common.utils.Utils.murmur2``."""
    length = len(data)
    h = _SEED ^ length
    for i in range(0, length - length % 4, 4):
        k = int.from_bytes(data[i:i + 4], "little")
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    tail = length & ~3
    extra = length % 4
    if extra >= 3:
        h ^= data[tail + 2] << 16
    if extra >= 2:
        h ^= data[tail + 1] << 8
    if extra >= 1:
        h ^= data[tail]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h


@functools.lru_cache(maxsize=1 << 18)
def partition_of(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner gives ``key`` among ``partitions``."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions
