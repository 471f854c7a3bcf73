"""Code 128 barcodes drawn as SVG, for store (OXXO) payment vouchers.

Stores scan the voucher's reference as a Code 128 barcode (ISO/IEC 15417). Written here
rather than taken from PyPI: the symbology is one table and a checksum, an SVG needs no
imaging library, and segno (already a dependency) draws QR codes only. Numeric references
use code set C (two digits per symbol: a shorter, easier-to-scan bar); anything else set B.
"""

from __future__ import annotations

from html import escape

__all__ = ["PATTERNS", "code128_svg", "code128_values"]

# Bar/space widths in modules for symbol values 0..106 (bar first); 106 is the stop.
PATTERNS = (
    "212222", "222122", "222221", "121223", "121322", "131222", "122213", "122312", "132212",
    "221213", "221312", "231212", "112232", "122132", "122231", "113222", "123122", "123221",
    "223211", "221132", "221231", "213212", "223112", "312131", "311222", "321122", "321221",
    "312212", "322112", "322211", "212123", "212321", "232121", "111323", "131123", "131321",
    "112313", "132113", "132311", "211313", "231113", "231311", "112133", "112331", "132131",
    "113123", "113321", "133121", "313121", "211331", "231131", "213113", "213311", "213131",
    "311123", "311321", "331121", "312113", "312311", "332111", "314111", "221411", "431111",
    "111224", "111422", "121124", "121421", "141122", "141221", "112214", "112412", "122114",
    "122411", "142112", "142211", "241211", "221114", "413111", "241112", "134111", "111242",
    "121142", "121241", "114212", "124112", "124211", "411212", "421112", "421211", "212141",
    "214121", "412121", "111143", "111341", "131141", "114113", "114311", "411113", "411311",
    "113141", "114131", "311141", "411131", "211412", "211214", "211232", "2331112",
)  # fmt: skip
CODE_B, START_B, START_C, STOP = 100, 104, 105, 106


def code128_values(text: str) -> list[int]:
    """Symbol values for ``text``: start, data, checksum, stop."""
    if not text:
        raise ValueError("nothing to encode")
    if text.isascii() and text.isdigit() and len(text) >= 2:
        even = len(text) - len(text) % 2
        values = [START_C] + [int(text[i : i + 2]) for i in range(0, even, 2)]
        if even < len(text):  # an odd digit out: switch to set B for it
            values += [CODE_B, ord(text[-1]) - 32]
    else:
        if any(not 32 <= ord(char) <= 126 for char in text):
            raise ValueError("Code 128 set B encodes printable ASCII only")
        values = [START_B] + [ord(char) - 32 for char in text]
    checksum = (values[0] + sum(i * v for i, v in enumerate(values[1:], start=1))) % 103
    return [*values, checksum, STOP]


def code128_svg(text: str, *, module: int = 2, height: int = 64, quiet: int = 10) -> str:
    """An inline ``<svg>`` of ``text`` as Code 128 (``quiet`` modules of margin each side)."""
    x = quiet
    bars: list[str] = []
    for value in code128_values(text):
        for index, width in enumerate(PATTERNS[value]):
            if index % 2 == 0:  # even positions are bars
                bars.append(f"M{x} 0h{width}v{height}h-{width}z")
            x += int(width)
    total = x + quiet
    label = escape(text, quote=True)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="barcode" role="img" '
        f'aria-label="Código de barras {label}" data-code="{label}" '
        f'viewBox="0 0 {total} {height}" width="{total * module}" height="{height}" '
        f'preserveAspectRatio="none" shape-rendering="crispEdges">'
        f'<rect width="{total}" height="{height}" fill="#fff"/>'
        f'<path fill="#000" d="{"".join(bars)}"/></svg>'
    )
