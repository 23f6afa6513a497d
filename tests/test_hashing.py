"""`hub hash` and the hash locators of the templates.

Every image is drawn here with Pillow (shapes on a plain background): no photograph is ever used. The
hashes are checked against hashlib, PDQ for stability, closeness of a resized and recompressed copy and
distance to another image, and the command's output against the takedown-request template; malformed
and all-zero hashes are refused by the template at the right place.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.metadata
import json
import random
import re
import socket
import tomllib
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

from hub.cli.main import main
from hub.core.templates import TemplateCatalog
from hub.hashing import LOW_QUALITY, bits_to_hex, digests, hamming, pdq_of_file
from tests.factories import run_cli

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"
MATCH = 31  # Meta's recommended PDQ match threshold, in bits of 256
SHA256_OF_A = hashlib.sha256(b"a").hexdigest()
MD5_OF_A = hashlib.md5(b"a", usedforsecurity=False).hexdigest()
PDQ_SAMPLE = "24e737181825e5e817251b25ec990767ed2c583526c8f79d1827e7bd1843f71e"


def scene(seed: int, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """A picture of large coloured shapes: enough structure for a high-quality PDQ."""
    rng = random.Random(seed)
    image = Image.new("RGB", size, (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    draw = ImageDraw.Draw(image)
    width, height = size
    for _ in range(12):
        x0, y0 = rng.randrange(width), rng.randrange(height)
        box = (x0, y0, x0 + rng.randrange(40, width // 2), y0 + rng.randrange(40, height // 2))
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        if rng.random() < 0.5:
            draw.ellipse(box, fill=colour)
        else:
            draw.rectangle(box, fill=colour)
    return image


def faint_disc() -> Image.Image:
    """A soft grey disc on grey: a PDQ, but of low quality."""
    image = Image.new("RGB", (256, 256), (100, 100, 100))
    ImageDraw.Draw(image).ellipse((60, 60, 200, 200), fill=(140, 140, 140))
    return image


def saved(image: Image.Image, path: Path, **options: Any) -> Path:
    image.save(path, **options)
    return path


def run_hash(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(["hash", *args])
    out, err = capsys.readouterr()
    return status, out, err


def takedown_with(hashes: list[dict[str, Any]]) -> dict[str, Any]:
    """The template's own full example (a whole envelope), its first locator carrying `hashes`."""
    example = json.loads((SCHEMAS / "takedown-request/examples/valid/full.json").read_text(encoding="utf-8"))
    envelope = copy.deepcopy(example)
    envelope["body"]["content"][0]["hashes"] = hashes
    return dict(envelope)


# -- the hashes -------------------------------------------------------------------------------------------
def test_sha256_and_md5_are_those_of_the_file_s_bytes(tmp_path: Path) -> None:
    path = saved(scene(1), tmp_path / "scene.png")
    data = path.read_bytes()

    found = digests(path)

    assert found.sha256 == hashlib.sha256(data).hexdigest()
    assert found.md5 == hashlib.md5(data, usedforsecurity=False).hexdigest()


def test_pdq_is_the_same_for_the_same_image(tmp_path: Path) -> None:
    first = saved(scene(1), tmp_path / "first.png")
    second = tmp_path / "copy.png"
    second.write_bytes(first.read_bytes())

    a, b = pdq_of_file(first), pdq_of_file(second)

    assert a == b == pdq_of_file(first)
    assert len(a.value) == 64
    assert a.value == a.value.lower()
    assert a.quality >= LOW_QUALITY


def test_pdq_of_a_resized_recompressed_copy_is_close(tmp_path: Path) -> None:
    original = saved(scene(1), tmp_path / "original.png")
    smaller = saved(scene(1).resize((320, 240)), tmp_path / "smaller.jpg", quality=60)
    assert digests(original).sha256 != digests(smaller).sha256  # the exact hashes no longer match

    assert hamming(pdq_of_file(original).value, pdq_of_file(smaller).value) <= MATCH


@pytest.mark.parametrize("other", [2, 3, 4])
def test_pdq_of_a_different_image_is_far(tmp_path: Path, other: int) -> None:
    one = pdq_of_file(saved(scene(1), tmp_path / "one.png"))
    another = pdq_of_file(saved(scene(other), tmp_path / "another.png"))

    assert hamming(one.value, another.value) > 2 * MATCH


def test_pdq_hex_reads_the_bits_most_significant_first() -> None:
    # pdqhash returns bit 255 first; Meta's hex (and ThreatExchange's) is that bit string as one number.
    assert bits_to_hex([1] + [0] * 255) == "8" + "0" * 63
    assert bits_to_hex([0] * 255 + [1]) == "0" * 63 + "1"
    assert bits_to_hex([1, 0, 1, 0] * 64) == "a" * 64
    with pytest.raises(ValueError, match="256 bits"):
        bits_to_hex([1] * 255)


# -- the command ------------------------------------------------------------------------------------------
def test_the_command_prints_locators_the_takedown_template_accepts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], catalog: TemplateCatalog
) -> None:
    path = saved(scene(1), tmp_path / "scene.png")

    status, out, err = run_hash(capsys, "--json", str(path))

    assert (status, err) == (0, "")
    [report] = json.loads(out)
    data = path.read_bytes()
    assert report["hashes"] == [
        {"alg": "sha256", "value": hashlib.sha256(data).hexdigest()},
        {"alg": "md5", "value": hashlib.md5(data, usedforsecurity=False).hexdigest()},
        {"alg": "pdq", "value": pdq_of_file(path).value},
    ]
    assert report["pdq_quality"] >= LOW_QUALITY
    assert report["low_quality"] is False
    assert catalog.validate(takedown_with(report["hashes"])) == []


def test_the_plain_output_has_a_pasteable_hashes_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], catalog: TemplateCatalog
) -> None:
    paths = [saved(scene(seed), tmp_path / f"scene-{seed}.png") for seed in (1, 2)]

    status, out, _ = run_hash(capsys, *map(str, paths))

    assert status == 0
    pasted = [json.loads(line.split("hashes", 1)[1]) for line in out.splitlines() if "  hashes  " in line]
    assert [[h["alg"] for h in hashes] for hashes in pasted] == [["sha256", "md5", "pdq"]] * 2
    assert pasted[0][0]["value"] == hashlib.sha256(paths[0].read_bytes()).hexdigest()
    assert all(catalog.validate(takedown_with(hashes)) == [] for hashes in pasted)


def test_a_file_that_is_not_an_image_gets_exact_hashes_and_a_one_line_refusal_of_pdq(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], catalog: TemplateCatalog
) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"a")

    status, out, err = run_hash(capsys, "--json", str(path))

    assert status == 1
    assert len(err.splitlines()) == 1
    assert err.startswith("hub: error: ")
    assert "not an image" in err
    [report] = json.loads(out)
    assert report["hashes"] == [{"alg": "sha256", "value": SHA256_OF_A}, {"alg": "md5", "value": MD5_OF_A}]
    assert report["pdq"] is None
    assert "no PDQ" in report["notes"][0]
    assert catalog.validate(takedown_with(report["hashes"])) == []


def test_a_missing_file_is_refused_and_the_others_are_still_hashed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    present = saved(scene(1), tmp_path / "present.png")
    missing = tmp_path / "missing.png"

    status, out, err = run_hash(capsys, "--json", str(missing), str(present))

    assert status == 1
    assert err.splitlines() == [f"hub: error: no such file: {missing}"]
    assert [r["file"] for r in json.loads(out)] == [str(present)]


def test_a_low_quality_pdq_is_flagged(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = saved(faint_disc(), tmp_path / "faint.png")

    status, out, _ = run_hash(capsys, "--json", str(path))
    [report] = json.loads(out)
    _, plain, _ = run_hash(capsys, str(path))

    assert status == 0
    assert 0 < report["pdq_quality"] < LOW_QUALITY
    assert report["low_quality"] is True
    assert any(f"below {LOW_QUALITY}" in note for note in report["notes"])
    assert report["hashes"][-1]["alg"] == "pdq"  # still offered, with the warning
    assert "LOW QUALITY" in plain


def test_an_all_zero_pdq_is_left_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], catalog: TemplateCatalog
) -> None:
    path = saved(Image.new("RGB", (128, 128)), tmp_path / "black.png")

    status, out, _ = run_hash(capsys, "--json", str(path))

    [report] = json.loads(out)
    assert status == 0
    assert [h["alg"] for h in report["hashes"]] == ["sha256", "md5"]
    assert report["pdq"] is None
    assert report["pdq_quality"] == 0
    assert "all zeros" in report["notes"][0]
    assert catalog.validate(takedown_with(report["hashes"])) == []


def test_hashing_never_opens_a_connection(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_network(*_: Any, **__: Any) -> None:
        raise AssertionError("hub hash tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    path = saved(scene(1), tmp_path / "scene.jpg", quality=90)

    status, out, _ = run_hash(capsys, "--json", str(path))

    assert status == 0
    assert len(json.loads(out)[0]["hashes"]) == 3


# -- the template's hash locator --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("alg", "value"),
    [
        ("sha256", SHA256_OF_A),
        ("md5", MD5_OF_A),
        ("pdq", PDQ_SAMPLE),
        ("pdq", "0" * 63 + "1"),  # one bit set is a (poor) hash, not the all-zero one
    ],
)
def test_well_formed_hashes_are_accepted(catalog: TemplateCatalog, alg: str, value: str) -> None:
    assert catalog.validate(takedown_with([{"alg": alg, "value": value}])) == []


VALUE = "/body/content/0/hashes/0/value"


@pytest.mark.parametrize(
    ("alg", "value", "pointer"),
    [
        ("pdq", "0" * 64, VALUE),  # the hash of an image without detail: matches any such image
        ("pdq", PDQ_SAMPLE[:-1], VALUE),
        ("pdq", PDQ_SAMPLE + "0", VALUE),
        ("pdq", PDQ_SAMPLE.upper(), VALUE),
        ("pdq", "g" + PDQ_SAMPLE[1:], VALUE),
        ("pdq", "", VALUE),
        ("sha256", SHA256_OF_A[:32], VALUE),
        ("sha256", SHA256_OF_A.upper(), VALUE),
        ("sha256", " " + SHA256_OF_A[1:], VALUE),
        ("md5", MD5_OF_A + "00", VALUE),
        ("md5", MD5_OF_A.upper(), VALUE),
        ("md5", "z" * 32, VALUE),
        ("sha1", hashlib.sha1(b"a", usedforsecurity=False).hexdigest(), "/body/content/0/hashes/0/alg"),
    ],
)
def test_malformed_hashes_are_refused_where_they_are(
    catalog: TemplateCatalog, alg: str, value: str, pointer: str
) -> None:
    faults = catalog.validate(takedown_with([{"alg": alg, "value": value}]))

    assert [f.pointer for f in faults] == [pointer]
    assert value == "" or value not in faults[0].message  # faults never quote what was sent


def test_a_hash_value_must_be_a_string(catalog: TemplateCatalog) -> None:
    faults = catalog.validate(takedown_with([{"alg": "pdq", "value": int(PDQ_SAMPLE, 16)}]))

    assert [f.pointer for f in faults] == [VALUE]


# -- the default install ----------------------------------------------------------------------------------


def _requirement_names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\s<>=!~;\[]", r, maxsplit=1)[0].lower().replace("_", "-") for r in requirements}


def test_the_default_install_gives_pdq(tmp_path: Path) -> None:
    """Issue 16.11: the command a hotline runs first gives the perceptual hash without any extra. Every
    library the PDQ path imports comes from a distribution among the project's own dependencies (what
    `pip install referral-hub` and the wheel install), and `hub hash` on an image prints its PDQ, exit 0."""
    project = tomllib.loads((SCHEMAS.parent / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    default = _requirement_names(project["dependencies"])
    providers = importlib.metadata.packages_distributions()
    for module in ("PIL", "numpy", "pdqhash"):
        names = {name.lower().replace("_", "-") for name in providers[module]}
        assert names & default, f"{module} is not installed by a plain `pip install referral-hub`"
    assert project["optional-dependencies"].get("hashing", []) == []  # the old extra, now an alias

    image = saved(scene(7), tmp_path / "scene.png")
    code, out, err = run_cli(["hash", str(image)], env={"PATH": "/usr/bin:/bin"})
    assert (code, err) == (0, "")
    assert re.search(r"^  pdq      [0-9a-f]{64}  quality \d+", out, re.MULTILINE)
    assert '"alg": "pdq"' in out
    assert "hashing extra" not in out + err
