"""Draw the portal's home-screen icons into src/simkeep/web/static/icons/ (run once; the PNGs are committed).

A white SIM card with its chip on simkeep's blue. Three shapes, as the platforms want them:
- icon-192.png, icon-512.png: a rounded square on a transparent background ("any" purpose, Chrome's installer);
- icon-maskable-512.png: full bleed, the card inside the central 80 % circle that every mask keeps ("maskable");
- apple-touch-icon.png (180 px): full bleed and opaque, iOS rounds the corners itself.

Drawn at 4x and scaled down for smooth edges. Usage: python scripts/make_icons.py
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parents[1] / "src" / "simkeep" / "web" / "static" / "icons"
BRAND = (11, 92, 173, 255)  # --brand in app.css
WHITE = (255, 255, 255, 255)
CHIP = (240, 165, 0, 255)
SCALE = 4


def card(draw: ImageDraw.ImageDraw, size: int, fraction: float) -> None:
    """A SIM card `fraction` of the icon high, centred: a portrait card with its top-right corner cut, and a chip."""
    height = size * fraction
    width = height * 0.72
    left, top = (size - width) / 2, (size - height) / 2
    right, bottom = left + width, top + height
    cut = width * 0.28
    draw.polygon([(left, top), (right - cut, top), (right, top + cut), (right, bottom), (left, bottom)], fill=WHITE)
    chip_w, chip_h = width * 0.56, height * 0.34
    cx, cy = left + width / 2, top + height * 0.6
    chip = (cx - chip_w / 2, cy - chip_h / 2, cx + chip_w / 2, cy + chip_h / 2)
    draw.rounded_rectangle(chip, radius=chip_w * 0.12, fill=CHIP)
    line = max(2, round(size / 96))  # the chip's contacts
    for x in (chip[0] + chip_w / 3, chip[0] + 2 * chip_w / 3):
        draw.line([(x, chip[1]), (x, chip[3])], fill=BRAND, width=line)
    draw.line([(chip[0], cy), (chip[2], cy)], fill=BRAND, width=line)


def icon(size: int, *, full_bleed: bool, fraction: float) -> Image.Image:
    big = size * SCALE
    image = Image.new("RGBA", (big, big), BRAND if full_bleed else (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    if not full_bleed:
        draw.rounded_rectangle((0, 0, big - 1, big - 1), radius=big * 0.22, fill=BRAND)
    card(draw, big, fraction)
    image = image.resize((size, size), Image.Resampling.LANCZOS)
    return image if not full_bleed else image.convert("RGB")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    shapes = {"icon-192.png": icon(192, full_bleed=False, fraction=0.62),
              "icon-512.png": icon(512, full_bleed=False, fraction=0.62),
              "icon-maskable-512.png": icon(512, full_bleed=True, fraction=0.5),
              "apple-touch-icon.png": icon(180, full_bleed=True, fraction=0.58)}
    for name, image in shapes.items():
        image.save(OUT / name, optimize=True)
        print(f"{OUT / name}: {image.size[0]}x{image.size[1]}")


if __name__ == "__main__":
    main()
