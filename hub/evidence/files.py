"""An evidence bundle as one ZIP file: writing it with stable bytes, and reading one from anyone.

Reading is defensive: a bundle handed to a verifier may come from an impostor. Names must be plain
relative paths, at most `MAX_FILES` files, none above `MAX_FILE_BYTES` and all together at most
`MAX_TOTAL_BYTES` once unpacked (a ZIP bomb is refused before it is inflated).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping

from hub.core.bundle_verify import BundleFormatError

MAX_FILES = 20_000
MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_TOTAL_BYTES = 512 * 1024 * 1024


def pack(files: Mapping[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))  # stable bytes for one content
            info.external_attr = 0o600 << 16
            archive.writestr(info, files[name], zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def unpack(data: bytes) -> dict[str, bytes]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            if len(infos) > MAX_FILES:
                raise BundleFormatError(f"it holds more than {MAX_FILES} files")
            if sum(i.file_size for i in infos) > MAX_TOTAL_BYTES or any(
                i.file_size > MAX_FILE_BYTES for i in infos
            ):
                raise BundleFormatError("it unpacks to more than an evidence bundle can hold")
            files = {}
            for info in infos:
                if info.is_dir():
                    continue
                name = info.filename
                if name.startswith("/") or "\\" in name or ".." in name.split("/") or name in files:
                    raise BundleFormatError(f"it holds a file named {name[:80]!r}")
                files[name] = archive.read(info)
            return files
    except zipfile.BadZipFile:
        raise BundleFormatError("it is not a ZIP file") from None
