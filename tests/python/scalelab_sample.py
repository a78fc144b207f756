"""Task functions for scalelab's python-workload tests (--python-func scalelab_sample:NAME).

Each is called with the task number and returns the task's checksum, an int.
"""

import asyncio
import time

NOT_CALLABLE = 42


def square(i):
    return i * i


def fail_on_3(i):
    """Task 3 raises ZeroDivisionError; the others return their number."""
    if i == 3:
        return 1 / 0
    return i


def nap(i):
    """Sleeps 100 ms (time.sleep releases the GIL), then returns the task number."""
    time.sleep(0.1)
    return i


async def anap(i):
    """An async def: awaits 100 ms, then returns the task number."""
    await asyncio.sleep(0.1)
    return i


def not_int(i):
    return str(i)


def negative(i):
    return -1 - i


class Tasks:
    @staticmethod
    def triple(i):
        return 3 * i


def extension_modules(i):
    """Uses modules that are shared objects of their own (lib-dynload on Debian: _decimal,
    _json, _hashlib): they resolve CPython's C API from the executable when it links the
    archive, so they fail to load if its symbols are not exported."""
    import decimal
    import hashlib
    import json

    digest = hashlib.sha256(json.dumps([i]).encode()).digest()
    return int(decimal.Decimal(i) * 2) + digest[0] - digest[0]
