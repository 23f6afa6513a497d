"""Content hashes, computed on the hotline's own machine, so that a takedown request carries hashes and
never the image.

Three hashes per file, in the forms the `hash` locator of the templates accepts (lower-case hex):

- SHA-256 and MD5 of the exact bytes: they find the very file and its byte-identical copies (MD5 because
  many platforms' and hotlines' hash lists still use it; it is an identifier here, not a protection);
- PDQ, Meta's 256-bit perceptual hash of the decoded image, which also finds resized, recompressed or
  lightly edited copies. PDQ reports a quality from 0 to 100: below 50 (Meta's own threshold) the image
  has too little detail for the hash to be trusted, and a featureless image hashes to all zeros, which
  would match every other featureless image: the templates refuse it, so it is never offered.

PDQ's libraries (pdqhash, numpy, Pillow) are part of the default install and imported only when a PDQ is
asked for; SHA-256 and MD5 need nothing. Nothing here opens a network connection.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL import Image

LOW_QUALITY = 50  # Meta's recommended floor: a PDQ of lower quality is not worth matching on
ZERO_PDQ = "0" * 64
_CHUNK = 1 << 20
INSTALL_HINT = (
    "PDQ needs pdqhash, numpy and Pillow, which referral-hub installs; this environment lacks them "
    "(installed with --no-deps?): pip install referral-hub"
)


class HashingError(Exception):
    """A file could not be hashed (missing, unreadable), or could not be given a PDQ."""


class NotAnImageError(HashingError):
    """The file is not an image the local image library can decode: it has no PDQ."""


class PdqUnavailableError(HashingError):
    """PDQ's libraries are missing (an install that skipped referral-hub's dependencies)."""


@dataclass(frozen=True)
class Pdq:
    value: str  # 64 lower-case hex digits, Meta's canonical order (as ThreatExchange writes it)
    quality: int  # 0 to 100

    @property
    def low_quality(self) -> bool:
        return self.quality < LOW_QUALITY

    @property
    def usable(self) -> bool:
        """False for the all-zero hash of a featureless image, which the templates refuse."""
        return self.value != ZERO_PDQ


@dataclass(frozen=True)
class FileHashes:
    sha256: str
    md5: str
    pdq: Pdq | None = None

    def locators(self) -> list[dict[str, str]]:
        """The `hashes` array of a takedown request's content locator."""
        found = [{"alg": "sha256", "value": self.sha256}, {"alg": "md5", "value": self.md5}]
        if self.pdq is not None and self.pdq.usable:
            found.append({"alg": "pdq", "value": self.pdq.value})
        return found


def digests(path: Path) -> FileHashes:
    """SHA-256 and MD5 of the file's exact bytes, read in chunks (a video may be large)."""
    sha256, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    try:
        with path.open("rb") as stream:
            while chunk := stream.read(_CHUNK):
                sha256.update(chunk)
                md5.update(chunk)
    except FileNotFoundError:
        raise HashingError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise HashingError(f"{path} is a directory, not a file") from None
    except OSError as exc:
        raise HashingError(f"cannot read {path}: {exc.strerror or exc.__class__.__name__}") from None
    return FileHashes(sha256=sha256.hexdigest(), md5=md5.hexdigest())


def pdq_of_file(path: Path) -> Pdq:
    """The PDQ of an image file (the first frame of an animation), or NotAnImageError."""
    image_module = _pillow()
    try:
        with image_module.open(path) as image:
            image.load()
            return pdq_of_image(image)
    except FileNotFoundError:
        raise HashingError(f"no such file: {path}") from None
    except image_module.DecompressionBombError:
        raise HashingError(f"{path} has too many pixels to decode safely: no PDQ") from None
    except (image_module.UnidentifiedImageError, SyntaxError, ValueError, OSError):
        # Pillow reports truncated or corrupt images as OSError, SyntaxError or ValueError.
        raise NotAnImageError(f"{path} is not an image this machine can decode: no PDQ") from None


def pdq_of_image(image: Image.Image) -> Pdq:
    """The PDQ of a decoded image, on its RGB pixels as stored (no EXIF rotation: PDQ's dihedral
    matching, on the platform's side, covers rotated and mirrored copies)."""
    numpy, pdqhash = _pdq_libraries()
    pixels = numpy.asarray(image.convert("RGB"), dtype=numpy.uint8)
    bits, quality = pdqhash.compute(pixels)
    return Pdq(value=bits_to_hex(int(b) for b in bits), quality=int(quality))


def bits_to_hex(bits: Any) -> str:
    """pdqhash gives the 256 bits most significant first; Meta's hex is those bits read as one number."""
    number = 0
    count = 0
    for bit in bits:
        number = (number << 1) | (1 if bit else 0)
        count += 1
    if count != 256:
        raise ValueError(f"a PDQ has 256 bits, not {count}")
    return f"{number:064x}"


def hamming(a: str, b: str) -> int:
    """How many of the 256 bits two PDQ hashes differ in (Meta matches at 31 or fewer)."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


def hash_file(path: Path, *, pdq: bool = True) -> FileHashes:
    """SHA-256, MD5 and, if asked, PDQ. Raises NotAnImageError for a file without a PDQ: call
    `digests` then for the other two."""
    found = digests(path)
    if not pdq:
        return found
    return FileHashes(sha256=found.sha256, md5=found.md5, pdq=pdq_of_file(path))


def _pillow() -> Any:
    try:
        from PIL import Image as image_module
    except ImportError:
        raise PdqUnavailableError(INSTALL_HINT) from None
    return image_module


def _pdq_libraries() -> tuple[Any, Any]:
    try:
        import numpy
        import pdqhash
    except ImportError:
        raise PdqUnavailableError(INSTALL_HINT) from None
    return numpy, pdqhash
