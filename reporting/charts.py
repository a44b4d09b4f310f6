"""Charts as PNG images for the e-mail report (mail clients run no JavaScript and often block SVG).

Drawn with Pillow at twice the displayed size, so they stay sharp on high-resolution screens. Without
Pillow the functions return None and the e-mail shows its tables alone.
"""

import io

SCALE = 2
WIDTH = 560
INK = (27, 35, 48)
MUTED = (102, 112, 133)
LINE = (228, 231, 236)
BLUE = (31, 111, 235)
GREY = (152, 162, 179)
BACKGROUND = (255, 255, 255)


def available() -> bool:
    try:
        import PIL  # noqa: F401
    except ImportError:
        return False
    return True


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size * SCALE)
    except (TypeError, OSError):  # Pillow without FreeType: the small bitmap font
        return ImageFont.load_default()


def _text_width(draw, text: str, font) -> int:
    left, _top, right, _bottom = draw.textbbox((0, 0), text, font=font)
    return right - left


def _png(image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _number(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}"


def horizontal_bars(title: str, labels: list[str], values: list, *, color=BLUE) -> bytes | None:
    """One bar per label, longest on top as given (the funnel)."""
    if not available():
        return None
    from PIL import Image, ImageDraw

    s = SCALE
    row, top, pad = 30 * s, 40 * s, 16 * s
    height = top + row * len(labels) + pad
    image = Image.new("RGB", (WIDTH * s, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    title_font, font = _font(15), _font(12)
    draw.text((pad, 12 * s), title, fill=INK, font=title_font)
    label_width = max([_text_width(draw, str(label), font) for label in labels] + [0]) + 12 * s
    number_width = 70 * s
    bar_area = WIDTH * s - pad * 2 - label_width - number_width
    biggest = max([v or 0 for v in values] + [1])
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = top + i * row
        draw.text((pad, y + 6 * s), str(label), fill=INK, font=font)
        x0 = pad + label_width
        length = int(bar_area * (value or 0) / biggest)
        draw.rectangle([x0, y + 4 * s, x0 + bar_area, y + row - 6 * s], fill=(246, 247, 249))
        if length:
            draw.rectangle([x0, y + 4 * s, x0 + length, y + row - 6 * s], fill=color)
        draw.text((x0 + bar_area + 8 * s, y + 6 * s), _number(value), fill=INK, font=font)
    return _png(image)


def grouped_columns(
    title: str, labels: list[str], series: list[tuple[str, list]], *, highlight_last=False
) -> bytes | None:
    """Columns per label for one or more series (a trend by day or week); the last group stands out."""
    if not available():
        return None
    from PIL import Image, ImageDraw

    s = SCALE
    pad, top, bottom, legend = 16 * s, 44 * s, 34 * s, 18 * s
    height = 240 * s
    image = Image.new("RGB", (WIDTH * s, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    title_font, small = _font(15), _font(10)
    draw.text((pad, 12 * s), title, fill=INK, font=title_font)
    colors = [BLUE, (122, 90, 248), (18, 183, 106), GREY]
    x = WIDTH * s - pad
    for (name, _values), color in reversed(list(zip(series, colors, strict=False))):
        width = _text_width(draw, name, small)
        x -= width
        draw.text((x, 14 * s), name, fill=MUTED, font=small)
        x -= 14 * s
        draw.rectangle([x, 16 * s, x + 10 * s, 26 * s], fill=color)
        x -= 10 * s
    chart_top, chart_bottom = top + legend // 2, height - bottom
    left, right = pad + 30 * s, WIDTH * s - pad
    biggest = max([v or 0 for _name, values in series for v in values] + [1])
    for fraction in (0, 0.5, 1):
        y = chart_bottom - int((chart_bottom - chart_top) * fraction)
        draw.line([left, y, right, y], fill=LINE, width=s)
        draw.text((pad, y - 7 * s), _number(biggest * fraction if fraction else 0), fill=MUTED, font=small)
    group = (right - left) / max(len(labels), 1)
    bar = max(int(group * 0.7 / max(len(series), 1)), s)
    for i, label in enumerate(labels):
        gx = left + int(group * i + group * 0.15)
        for j, ((_name, values), color) in enumerate(zip(series, colors, strict=False)):
            value = values[i] or 0
            h = int((chart_bottom - chart_top) * value / biggest)
            fill = color if (not highlight_last or i == len(labels) - 1) else tuple(min(255, c + 90) for c in color)
            x0 = gx + j * bar
            if h:
                draw.rectangle([x0, chart_bottom - h, x0 + bar - s, chart_bottom], fill=fill)
        text = str(label)
        draw.text((left + group * i + (group - _text_width(draw, text, small)) / 2, chart_bottom + 8 * s), text,
                  fill=MUTED, font=small)
    return _png(image)
