"""Reading uploaded files: their content up to a size cap, and the name the browser sent."""

from __future__ import annotations

import unicodedata
from pathlib import PurePosixPath, PureWindowsPath

from werkzeug.datastructures import FileStorage

_CHUNK = 64 * 1024


def read_capped(file_storage: FileStorage, max_bytes: int) -> bytes:
    """At most one byte more than `max_bytes`, so an oversize file is known without reading it
    all."""
    chunks, remaining = [], max_bytes + 1
    while remaining > 0:
        chunk = file_storage.stream.read(min(_CHUNK, remaining))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def sent_name(name: str) -> str:
    """The file name a browser sent without its folders (either kind of slash), control
    characters and surrounding spaces or dots; possibly empty."""
    name = PureWindowsPath(PurePosixPath(name).name).name
    return "".join(char for char in name if unicodedata.category(char)[0] != "C").strip(" .")
