"""Reading and writing the dataset's PNG files safely: never a silent misread.

RELLISUR (Aakerberg et al., NeurIPS 2021) stores every image as an 8-bit RGB PNG. Pillow would quietly turn
other files into something that looks right (a 16-bit RGB PNG opens as 8-bit "RGB"; a gray or palette file
converts to RGB on request), so the bit depth and colour type are read from the PNG header (the IHDR chunk,
the first 33 bytes) and checked before decoding. The rule:

- 8-bit RGB: read as is.
- 8-bit RGBA: the alpha channel is dropped if every pixel is fully opaque (some tools add one on re-save,
  which loses nothing); otherwise refused, since the colours of transparent pixels are undefined.
- 16-bit (or any depth other than 8), grayscale, grayscale + alpha, palette: refused, with a message saying
  how to convert, because reading them as 8-bit RGB would change the data the model is trained and scored on.
- Not a PNG, truncated, corrupt: refused when the file is read.

User photos (``enhance``) go through :func:`read_rgb8`: 8-bit RGB PNG or JPEG, EXIF orientation applied,
anything else refused with a message saying how to convert. Every write (:func:`write_png`) is atomic.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from lolisr_lib.errors import DatasetError, UserError
from lolisr_lib.runtime.files import atomic_write

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
COLOR_TYPES = {0: "grayscale", 2: "RGB", 3: "palette", 4: "grayscale with alpha", 6: "RGBA"}
_RESTORE = "restore the original from the RELLISUR download"


@dataclass(frozen=True)
class PngHeader:
    """The facts of a PNG's IHDR chunk that decide whether we can read it."""

    width: int  # pixels
    height: int  # pixels
    bit_depth: int  # bits per sample: 1, 2, 4, 8 or 16
    color_type: int  # 0 gray, 2 RGB, 3 palette, 4 gray + alpha, 6 RGBA


def read_png_header(path: str | Path, name: str | None = None) -> PngHeader:
    """Read the 33-byte PNG header (signature and IHDR chunk) of ``path`` without decoding the image."""
    name = name or str(path)
    try:
        with open(path, "rb") as file:
            head = file.read(33)
    except OSError as err:
        message = f"{name} cannot be opened ({err.strerror}); check that it exists and is readable"
        raise DatasetError(message) from err
    if len(head) < 33:
        raise DatasetError(f"{name} is empty or truncated ({len(head)} bytes); {_RESTORE}")
    if head[:8] != PNG_SIGNATURE:
        raise DatasetError(f"{name} is not a PNG file (its first bytes are not the PNG signature); {_RESTORE}")
    length, chunk_type = struct.unpack(">I4s", head[8:16])
    crc = struct.unpack(">I", head[29:33])[0]
    if length != 13 or chunk_type != b"IHDR" or zlib.crc32(head[12:29]) != crc:
        raise DatasetError(f"{name} has a corrupt PNG header; {_RESTORE}")
    width, height, bit_depth, color_type = struct.unpack(">IIBB", head[16:26])
    return PngHeader(width, height, bit_depth, color_type)


def header_problem(header: PngHeader, name: str) -> str | None:
    """Why a file with this header cannot be used (a message naming ``name``), or None if it can."""
    kind = COLOR_TYPES.get(header.color_type, f"colour type {header.color_type}")
    depth = f"{'an' if header.bit_depth == 8 else 'a'} {header.bit_depth}-bit"
    if header.color_type in (0, 4):
        return (
            f"{name} is {depth} {kind} PNG, but RELLISUR images are 8-bit RGB; {_RESTORE}, "
            f"or if a gray image is really meant, save it as RGB (Pillow: Image.open(f).convert('RGB').save(f))"
        )
    if header.color_type == 3:
        return (
            f"{name} is a palette (indexed-colour) PNG with at most 256 colours, usually a lossy re-save, but "
            f"RELLISUR images are 8-bit RGB; {_RESTORE}"
        )
    if header.color_type not in (2, 6):
        return f"{name} has an invalid PNG colour type {header.color_type}; {_RESTORE}"
    if header.bit_depth != 8:
        return (
            f"{name} is {depth} {kind} PNG, but RELLISUR images are 8-bit RGB; {_RESTORE}, or "
            f"convert it to 8 bits per channel (ImageMagick: magick FILE -depth 8 PNG24:FILE)"
        )
    return None


def read_png(path: str | Path, name: str | None = None) -> np.ndarray:
    """Read an 8-bit RGB PNG as uint8 ``(H, W, 3)``, following the module's rule; ``name`` labels messages."""
    name = name or str(path)
    header = read_png_header(path, name)
    problem = header_problem(header, name)
    if problem:
        raise DatasetError(problem)
    try:
        with Image.open(path, formats=["PNG"]) as image:
            image.load()
            pixels = np.array(image)  # a writable copy
    except (OSError, SyntaxError, ValueError, EOFError, zlib.error, Image.DecompressionBombError) as err:
        raise DatasetError(f"{name} is unreadable or truncated ({err}); {_RESTORE}") from err
    channels = 3 if header.color_type == 2 else 4
    if pixels.dtype != np.uint8 or pixels.shape != (header.height, header.width, channels):
        raise DatasetError(f"{name} decodes to {pixels.dtype} {pixels.shape}, unlike its header; {_RESTORE}")
    if header.color_type == 6:
        translucent = int(np.count_nonzero(pixels[..., 3] != 255))
        if translucent:
            raise DatasetError(
                f"{name} is RGBA with {translucent} transparent or translucent pixel{'s' * (translucent > 1)}, "
                f"but RELLISUR images are opaque 8-bit RGB; {_RESTORE}"
            )
        pixels = pixels[..., :3]
    return np.ascontiguousarray(pixels)  # dropping alpha leaves a strided view


def to_uint8(img: torch.Tensor) -> np.ndarray:
    """A ``(3, H, W)`` float image in [0, 1] as a uint8 ``(H, W, 3)`` array (clipped, rounded)."""
    return (img.detach().clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()


def write_png(path: str | Path, img: np.ndarray | torch.Tensor) -> Path:
    """Write an image as an 8-bit RGB PNG, atomically, byte-identical for identical pixels.

    ``img``: a uint8 ``(H, W, 3)`` array, or a ``(3, H, W)`` float tensor in [0, 1] (see :func:`to_uint8`).
    """
    array = to_uint8(img) if isinstance(img, torch.Tensor) else img
    return atomic_write(path, lambda file: Image.fromarray(array).save(file, format="PNG", compress_level=3))


def read_rgb8(path: str | Path) -> torch.Tensor:
    """An 8-bit RGB image file as a ``(3, h, w)`` float tensor in [0, 1] (see the module docstring's rule)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"input image {path} does not exist")
    try:
        img = Image.open(path)
    except (UnidentifiedImageError, OSError):
        raise UserError(f"{path} is not an image Pillow can read; use an 8-bit RGB PNG or JPEG") from None
    with img:
        # Pillow opens 16-bit RGB PNGs as mode "RGB" and drops the low byte on load; only the raw mode tells.
        if any(";16" in str(tile.args) for tile in img.tile):
            raise UserError(f"{path} has 16 bits per channel; save it as 8-bit RGB first")
        if img.mode != "RGB":
            raise UserError(
                f"{path} is a {img.mode} image ({_describe(img.mode)}); this needs 8-bit RGB: convert it first, "
                "e.g. PIL's Image.open(p).convert('RGB').save(q)"
            )
        img = ImageOps.exif_transpose(img)  # a phone JPEG's orientation tag: process the image as it is shown
        array = np.asarray(img, dtype=np.uint8)  # (h, w, 3)
    return torch.from_numpy(array.copy()).permute(2, 0, 1).float() / 255  # (3, h, w)


def _describe(mode: str) -> str:
    if mode in ("L", "1", "I", "I;16", "I;16B", "F"):
        return "grayscale, or more than 8 bits"
    if mode in ("RGBA", "LA", "PA", "RGBa"):
        return "with transparency"
    return {"P": "palette colours", "CMYK": "printing colours"}.get(mode, "not plain RGB")


def check_png_path(path: str | Path) -> Path:
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise UserError(f"output {path} must end in .png (the result is always written as a lossless PNG)")
    return path
