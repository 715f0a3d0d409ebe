"""The SSIM map as a picture that explains itself: where two images differ.

`render` draws, left to right under a title each: the two inputs (if given,
"REFERENCE" and "DISTORTED"), the local SSIM map ("SSIM MAP") in a perceptually
uniform colour map (viridis: dark is low SSIM, yellow is 1), and a colour bar.
The report's worst regions are boxed in red on every panel and numbered 1, 2,
3 as in the text report's "worst region N". Below the panels: the mean SSIM,
the lowest local SSIM and where it is (row, column of the image), and what the
boxes are. A white margin keeps every label off the edges.

The colour bar has a fixed scale, always -1 to 1, with its ends and middle
written on it: the same colour means the same local SSIM in every picture, so
two pictures can be compared side by side. -1, not 0, because the local SSIM
of scikit-image (and so ssimfast) can be negative (anti-correlated windows);
a 0..1 scale would have to clip those and show them as 0.

Positions follow NumPy: (row, column), boxes as half-open ranges, the same
numbers as `SSIMReport.worst` and the text report.

Written with NumPy only, so `python -m ssimfast` needs no plotting library:
the labels use the 5x7 bitmap font below; `_png.encode` (zlib only) writes
the file. Large images are reduced to at most `max_side` pixels per side: the
map by the minimum of each block, so that a small defect stays visible; the
inputs by the mean. Images under 128 pixels a side are enlarged by a whole
factor (each pixel a square), so that the boxes and their numbers fit.
"""
import math

import numpy as np

from ssimfast import _png, _positions

__all__ = ["render", "save", "compose", "SCALE"]

SCALE = (-1.0, 1.0)  # the colour bar's fixed range (see the module docstring)
# viridis at 0, 1/8, ..., 1
_VIRIDIS = np.array([
    (68, 1, 84), (71, 45, 123), (59, 82, 139), (44, 114, 142), (33, 145, 140),
    (40, 174, 128), (94, 201, 98), (173, 220, 48), (253, 231, 37)], np.float64)
BOX = np.array([255, 0, 0], np.uint8)  # not in viridis, and not gray
_BACKGROUND = 255
_INK = 0
_MIN_SIDE = 128  # smaller images are enlarged to at least this

# 5x7 glyphs for the labels (uppercase only).
_GLYPHS = {
    "0": (" ### ", "#   #", "#  ##", "# # #", "##  #", "#   #", " ### "),
    "1": ("  #  ", " ##  ", "  #  ", "  #  ", "  #  ", "  #  ", " ### "),
    "2": (" ### ", "#   #", "    #", "   # ", "  #  ", " #   ", "#####"),
    "3": ("#####", "   # ", "  #  ", "   # ", "    #", "#   #", " ### "),
    "4": ("   # ", "  ## ", " # # ", "#  # ", "#####", "   # ", "   # "),
    "5": ("#####", "#    ", "#### ", "    #", "    #", "#   #", " ### "),
    "6": ("  ## ", " #   ", "#    ", "#### ", "#   #", "#   #", " ### "),
    "7": ("#####", "    #", "   # ", "  #  ", " #   ", " #   ", " #   "),
    "8": (" ### ", "#   #", "#   #", " ### ", "#   #", "#   #", " ### "),
    "9": (" ### ", "#   #", "#   #", " ####", "    #", "   # ", " ##  "),
    ".": ("     ", "     ", "     ", "     ", "     ", " ##  ", " ##  "),
    "-": ("     ", "     ", "     ", "#####", "     ", "     ", "     "),
    " ": ("     ",) * 7,
    "/": ("     ", "    #", "   # ", "  #  ", " #   ", "#    ", "     "),
    "?": (" ### ", "#   #", "    #", "   # ", "  #  ", "     ", "  #  "),
    ",": ("     ", "     ", "     ", "     ", " ##  ", "  #  ", " #   "),
    ":": ("     ", " ##  ", " ##  ", "     ", " ##  ", " ##  ", "     "),
    "(": ("   # ", "  #  ", " #   ", " #   ", " #   ", "  #  ", "   # "),
    ")": (" #   ", "  #  ", "   # ", "   # ", "   # ", "  #  ", " #   "),
    "A": (" ### ", "#   #", "#   #", "#####", "#   #", "#   #", "#   #"),
    "B": ("#### ", "#   #", "#   #", "#### ", "#   #", "#   #", "#### "),
    "C": (" ### ", "#   #", "#    ", "#    ", "#    ", "#   #", " ### "),
    "D": ("#### ", "#   #", "#   #", "#   #", "#   #", "#   #", "#### "),
    "E": ("#####", "#    ", "#    ", "#### ", "#    ", "#    ", "#####"),
    "F": ("#####", "#    ", "#    ", "#### ", "#    ", "#    ", "#    "),
    "G": (" ### ", "#   #", "#    ", "# ###", "#   #", "#   #", " ####"),
    "H": ("#   #", "#   #", "#   #", "#####", "#   #", "#   #", "#   #"),
    "I": (" ### ", "  #  ", "  #  ", "  #  ", "  #  ", "  #  ", " ### "),
    "J": ("  ###", "   # ", "   # ", "   # ", "   # ", "#  # ", " ##  "),
    "K": ("#   #", "#  # ", "# #  ", "##   ", "# #  ", "#  # ", "#   #"),
    "L": ("#    ", "#    ", "#    ", "#    ", "#    ", "#    ", "#####"),
    "M": ("#   #", "## ##", "# # #", "# # #", "#   #", "#   #", "#   #"),
    "N": ("#   #", "#   #", "##  #", "# # #", "#  ##", "#   #", "#   #"),
    "O": (" ### ", "#   #", "#   #", "#   #", "#   #", "#   #", " ### "),
    "P": ("#### ", "#   #", "#   #", "#### ", "#    ", "#    ", "#    "),
    "Q": (" ### ", "#   #", "#   #", "#   #", "# # #", "#  # ", " ## #"),
    "R": ("#### ", "#   #", "#   #", "#### ", "# #  ", "#  # ", "#   #"),
    "S": (" ####", "#    ", "#    ", " ### ", "    #", "    #", "#### "),
    "T": ("#####", "  #  ", "  #  ", "  #  ", "  #  ", "  #  ", "  #  "),
    "U": ("#   #", "#   #", "#   #", "#   #", "#   #", "#   #", " ### "),
    "V": ("#   #", "#   #", "#   #", "#   #", "#   #", " # # ", "  #  "),
    "W": ("#   #", "#   #", "#   #", "# # #", "# # #", "# # #", " # # "),
    "X": ("#   #", "#   #", " # # ", "  #  ", " # # ", "#   #", "#   #"),
    "Y": ("#   #", "#   #", " # # ", "  #  ", "  #  ", "  #  ", "  #  "),
    "Z": ("#####", "    #", "   # ", "  #  ", " #   ", "#    ", "#####"),
}


def save(path, report, im1=None, im2=None, max_side=1024):
    """Write `render(report, im1, im2, max_side)` to `path` as a PNG."""
    with open(path, "wb") as f:
        f.write(_png.encode(render(report, im1, im2, max_side)))


def render(report, im1=None, im2=None, max_side=1024):
    """An (H, W, 3) uint8 picture of `report`'s map (see the module docstring).

    im1, im2: the compared images, (H, W) gray or (H, W, C) colour with the
    channels last, shown beside the map if given. For volumes (maps of more than
    two axes) the picture is the plane through the lowest local SSIM.
    """
    return compose(report, im1, im2, max_side)[0]


def compose(report, im1=None, im2=None, max_side=1024):
    """`render`'s picture and where its panels are: {title: (top, left, step,
    zoom)}; the panel's pixel (r, c) shows the image's step x step block from
    (r // zoom * step, c // zoom * step) (one of step, zoom is 1)."""
    smap = np.asarray(report.ssim_map, dtype=np.float64)
    lead = tuple(report.argmin[:-2])  # the plane through the minimum
    plane = smap[lead]
    if plane.ndim != 2:
        raise ValueError(f"a heatmap needs an image of at least 2 axes; the map has shape {smap.shape}")
    if isinstance(max_side, bool) or not isinstance(max_side, (int, np.integer)) or max_side < 1:
        raise ValueError(f"max_side must be a positive integer, got {max_side!r}")
    step = max(1, math.ceil(max(plane.shape) / max_side))
    # Small images are enlarged (each pixel a zoom x zoom square) to be seen.
    zoom = max(1, min(_MIN_SIDE // max(plane.shape), max_side // max(plane.shape)))
    titled = [(t, im) for t, im in (("REFERENCE", im1), ("DISTORTED", im2)) if im is not None]
    panels = list(zip([t for t, _ in titled],
                      _gray_or_colour([im for _, im in titled], plane.shape, lead, step)))
    panels.append(("SSIM MAP", _colour(_reduce(plane, step, "min"), *SCALE)))
    panels = [(t, np.repeat(np.repeat(p, zoom, axis=0), zoom, axis=1)) for t, p in panels]
    boxes = [(n, tuple(s // step * zoom for s in r.start[-2:]),
              tuple(-(-e // step) * zoom for e in r.stop[-2:]))
             for n, r in enumerate(report.worst, 1)
             if all(a <= i < b for i, a, b in zip(lead, r.start[:-2], r.stop[:-2]))]
    height = panels[0][1].shape[0]
    scale = 1 if height < 160 else 2 if height < 600 else 3  # of the lettering
    for _, panel in panels:
        for _, start, stop in boxes:
            _draw_box(panel, start, stop, width=max(2, scale))
        for n, start, _ in boxes:  # numbers over every outline
            _draw_number(panel, n, start, scale)
    panels.append(("FIXED SCALE", _colour_bar(max(height, 64 * scale), scale)))
    return _layout(panels, _footer(report, boxes, lead, step, zoom), scale, step, zoom)


def _footer(report, boxes, lead, step, zoom):
    """The lines written under the panels."""
    lines = [f"MEAN SSIM {report.mean:.4f}",
             f"LOWEST LOCAL SSIM {report.min:.4f} AT {_positions.point(report.argmin)}"]
    if boxes:
        lines.append("RED BOXES: THE WORST REGIONS, 1 IS THE WORST")
    for n, _, _ in boxes:
        r = report.worst[n - 1]
        lines.append(f"{n}: {_positions.ranges(r.start, r.stop)}, MEAN SSIM {r.mean:.4f}")
    if lead:
        lines.append(f"SHOWN: THE PLANE THROUGH THE LOWEST LOCAL SSIM ({_positions.point(lead)})")
    if step > 1:
        lines.append(f"SHOWN AT 1/{step} SIZE, THE MAP BY THE MINIMUM OF EACH BLOCK")
    if zoom > 1:
        lines.append(f"SHOWN {zoom} TIMES ENLARGED")
    return [line.upper() for line in lines]


def _layout(panels, lines, scale, step, zoom):
    """Titled panels side by side, the lines under them, in a white margin."""
    margin, gap, lead = 12 * scale, 12 * scale, 4 * scale
    glyph_h = 7 * scale
    titles = [_text(t, scale) for t, _ in panels]
    texts = [_text(line, scale) for line in lines]
    widths = [max(p.shape[1], t.shape[1]) for (_, p), t in zip(panels, titles)]
    body_h = max(p.shape[0] for _, p in panels)
    row_w = sum(widths) + gap * (len(panels) - 1)
    width = 2 * margin + max([row_w] + [t.shape[1] for t in texts])
    top = margin + glyph_h + lead  # of the panels
    height = top + body_h + (gap + len(texts) * (glyph_h + lead) - lead if texts else 0) + margin
    out = np.full((height, width, 3), _BACKGROUND, np.uint8)
    where = {}
    col = margin
    for (title, p), t, w in zip(panels, titles, widths):
        _put(out, t, margin, col + (w - t.shape[1]) // 2)
        left = col + (w - p.shape[1]) // 2
        out[top : top + p.shape[0], left : left + p.shape[1]] = p
        where[title] = (top, left, step, zoom)
        col += w + gap
    row = top + body_h + gap
    for t in texts:
        _put(out, t, row, margin)
        row += glyph_h + lead
    return out, where


def _put(out, mask, row, col, ink=_INK):
    out[row : row + mask.shape[0], col : col + mask.shape[1]][mask] = ink


def _reduce(a, step, how):
    """The minimum or the mean ('min', 'mean') of each step x step block of `a`."""
    if step == 1:
        return a
    h, w = a.shape[:2]
    H, W = -(-h // step), -(-w // step)
    pad = [(0, H * step - h), (0, W * step - w)] + [(0, 0)] * (a.ndim - 2)
    padded = np.pad(a, pad, mode="edge")
    blocks = padded.reshape(H, step, W, step, *a.shape[2:])
    if how == "min":
        return blocks.min(axis=(1, 3))
    return blocks.mean(axis=(1, 3))


def _colour(values, lo, hi):
    """values in [lo, hi] -> viridis RGB; NaN is shown white."""
    t = np.clip((values - lo) / (hi - lo), 0.0, 1.0) * (len(_VIRIDIS) - 1)
    t = np.where(np.isfinite(t), t, 0.0)
    i = np.minimum(t.astype(np.intp), len(_VIRIDIS) - 2)
    f = (t - i)[..., None]
    rgb = _VIRIDIS[i] * (1 - f) + _VIRIDIS[i + 1] * f
    rgb[~np.isfinite(values)] = 255
    return np.round(rgb).astype(np.uint8)


def _gray_or_colour(images, shape, lead, step):
    """The inputs as RGB panels, on one common intensity scale."""
    if not images:
        return []
    planes = []
    for im in images:
        im = np.asarray(im)
        im = im[lead] if lead else im
        if im.shape[:2] != shape or im.ndim not in (2, 3):
            raise ValueError(f"heatmap inputs must be (H, W) or (H, W, C) images of the map's "
                             f"size {shape}, got shape {np.shape(im)}")
        planes.append(im)
    if all(p.dtype == np.uint8 for p in planes):
        lo, hi = 0.0, 255.0
    else:
        lo = min(float(np.nanmin(p)) for p in planes)
        hi = max(float(np.nanmax(p)) for p in planes)
        hi = hi if hi > lo else lo + 1.0
    out = []
    for p in planes:
        p = (p.astype(np.float64) - lo) * (255.0 / (hi - lo))
        p = _reduce(p, step, "mean")
        if p.ndim == 2:
            p = np.repeat(p[..., None], 3, axis=2)
        elif p.shape[2] == 1:
            p = np.repeat(p, 3, axis=2)
        else:
            p = p[..., :3]
        out.append(np.round(np.clip(np.nan_to_num(p), 0, 255)).astype(np.uint8))
    return out


def _draw_box(panel, start, stop, width=2):
    """A red rectangle outline, inside [start, stop) and clipped to the panel."""
    h, w = panel.shape[:2]
    r0, c0 = max(0, start[0]), max(0, start[1])
    r1, c1 = min(h, stop[0]), min(w, stop[1])
    if r1 <= r0 or c1 <= c0:
        return
    t = min(width, r1 - r0, c1 - c0)
    panel[r0 : r0 + t, c0:c1] = BOX
    panel[r1 - t : r1, c0:c1] = BOX
    panel[r0:r1, c0 : c0 + t] = BOX
    panel[r0:r1, c1 - t : c1] = BOX


def _draw_number(panel, n, start, scale):
    """Box n's number, white on red, in the box's top left corner (moved in to
    stay on the panel)."""
    mask = _text(str(n), scale)
    h, w = panel.shape[:2]
    lh, lw = mask.shape[0] + 2 * scale, mask.shape[1] + 2 * scale
    r = max(0, min(start[0], h - lh))
    c = max(0, min(start[1], w - lw))
    panel[r : r + lh, c : c + lw] = BOX
    region = panel[r + scale : r + scale + mask.shape[0], c + scale : c + scale + mask.shape[1]]
    region[mask[: region.shape[0], : region.shape[1]]] = 255


def _colour_bar(height, scale):
    """A vertical bar from SCALE's top (1) down to its bottom (-1), with ticks."""
    lo, hi = SCALE
    bar_w, tick = 10 * scale, 3 * scale
    values = (1.0, 0.5, 0.0, -0.5, -1.0) if height >= 5 * 14 * scale else (1.0, 0.0, -1.0)
    text = [_text(f"{v:.1f}", scale) for v in values]
    out = np.full((height, bar_w + 2 * tick + max(t.shape[1] for t in text), 3), _BACKGROUND,
                  np.uint8)
    column = np.linspace(hi, lo, height)[:, None]
    out[:, :bar_w] = _colour(np.repeat(column, bar_w, axis=1), lo, hi)
    for v, t in zip(values, text):
        row = int(round((hi - v) / (hi - lo) * (height - 1)))
        first = min(max(row - scale // 2, 0), height - scale)
        out[first : first + scale, bar_w : bar_w + tick] = _INK
        top = min(max(row - t.shape[0] // 2, 0), height - t.shape[0])
        _put(out, t, top, bar_w + 2 * tick)
    return out


def _text(s, scale):
    """A boolean mask of `s` in the 5x7 font, one column between glyphs (? for
    a character the font lacks)."""
    glyphs = [np.array([[c == "#" for c in line] for line in _GLYPHS.get(ch, _GLYPHS["?"])])
              for ch in s]
    gap = np.zeros((7, 1), bool)
    mask = np.concatenate([x for g in glyphs for x in (g, gap)][:-1], axis=1)
    return np.kron(mask, np.ones((scale, scale), bool)).astype(bool)
