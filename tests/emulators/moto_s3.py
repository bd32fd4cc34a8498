"""moto's S3 server with S3's conditional-write guarantee.

Real S3 applies ``PutObject`` with ``If-None-Match: *`` atomically: of two creates racing for one key exactly one
succeeds. moto checks for the key and then stores the object as two steps on its request threads, so two racing
creates can both succeed, and the run-lock tests then see two holders where S3 never gives two. This entry point
serializes moto's object PUT handling, which restores the guarantee without changing anything else.

Run as ``python moto_s3.py -H 127.0.0.1 -p PORT`` (the same arguments as ``moto.server``).
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from moto import server
from moto.s3.responses import S3Response

_PUT = threading.Lock()


def _serialized(method: Any) -> Any:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with _PUT:
            return method(*args, **kwargs)

    return wrapper


S3Response.put_object = _serialized(S3Response.put_object)  # type: ignore[method-assign]

if __name__ == "__main__":
    server.main()
