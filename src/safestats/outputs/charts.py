"""The trend reports' charts as PNG bytes, drawn off-screen (no display, no pyplot state), so a build can make
hundreds of them quickly and embed each in its report as a data: URI. Charts draw released cells only and print
no counts: the figures a reader can quote are in the report's table, where each one is tagged and checked.

A report's monthly trends are small multiples composed on the page from one panel per measure, so a build draws
a place's panel for a measure once and every edition holding that measure reuses it. Layouts are fixed margins,
never measured by a layout engine: measuring costs more than drawing."""
from __future__ import annotations

import base64
import io
import math
from dataclasses import dataclass

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.textpath import TextToPath
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator

DPI = 100
AREA = "#1f4e79"        # the report's own area: a borough, or London in London's report
LONDON = "#9aa5b1"      # London beside a borough
QUARTER = "#dce8f5"     # the report's quarter, shaded
RISE = "#b4532a"
FALL = "#2a7f7f"
INK = "#333333"
GRID = "#e3e3e3"
FONT = {"font.family": "DejaVu Sans", "font.size": 8}
PANEL_SIZE = (3.6, 1.5)   # inches: two a row across the page's width, shown at about their own size
LABEL_SIZE = 8


@dataclass(frozen=True)
class Series:
    """One measure's monthly released counts in the window; None where the month was withheld or is missing."""
    label: str
    months: list[str]           # 'YYYY-MM', oldest first
    values: list[int | None]


def _png(fig: Figure) -> bytes:
    out = io.BytesIO()
    FigureCanvasAgg(fig)
    fig.savefig(out, format="png", dpi=DPI, pil_kwargs={"compress_level": 3})
    return out.getvalue()


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _style(ax) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color("#999999")
    ax.tick_params(colors=INK, length=2)
    ax.grid(axis="y", color=GRID, linewidth=0.6)
    ax.set_axisbelow(True)


def _month_label(month: str, first: bool = False) -> str:
    names = "JFMAMJJASOND"
    year, mon = month.split("-")
    return names[int(mon) - 1] + ("\n" + year if mon == "01" or (first and int(mon) <= 10) else "")


def monthly_panel(series: Series, quarter_months: list[str]) -> bytes:
    """One measure's monthly count over the window, the report's quarter shaded, on its own scale from zero (a
    small multiple: anti-social behaviour runs to thousands, knife crime to tens). Every panel has one size, so a
    page lays any number of them out in a grid."""
    with _rc():
        width, height = PANEL_SIZE
        fig = Figure(figsize=PANEL_SIZE)
        fig.subplots_adjust(left=0.45 / width, right=1 - 0.08 / width, top=1 - 0.26 / height,
                            bottom=0.36 / height)
        ax = fig.add_subplot()
        x = list(range(len(series.months)))
        ys = [math.nan if v is None else v for v in series.values]
        shaded = [j for j, m in enumerate(series.months) if m in quarter_months]
        if shaded:
            ax.axvspan(min(shaded) - 0.5, max(shaded) + 0.5, color=QUARTER, linewidth=0)
        ax.plot(x, ys, color=AREA, linewidth=1.6, marker="o", markersize=2.5)
        ax.set_title(series.label, loc="left", fontsize=8.5, color=INK, fontweight="bold", pad=3)
        ax.set_xlim(-0.5, max(len(x), 1) - 0.5)
        ax.xaxis.set_major_locator(FixedLocator(x))
        ax.set_xticklabels([_month_label(m, j == 0) for j, m in enumerate(series.months)], fontsize=6.5)
        top = max([v for v in series.values if v is not None], default=0)
        ax.set_ylim(0, max(top * 1.15, 10))
        ax.yaxis.set_major_locator(MaxNLocator(nbins=3, integer=True))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        _style(ax)
        return _png(fig)


def _label_width(labels: list[str]) -> float:
    """The widest label's width in inches, from the font's own metrics (no drawing)."""
    prop = FontProperties(family=FONT["font.family"], size=LABEL_SIZE)
    measure = TextToPath()
    return max(measure.get_text_width_height_descent(s, prop, ismath=False)[0] for s in labels) / 72


def comparisons(labels: list[str], changes: list[float | None] | None, area_rates: list[float | None] | None,
                london_rates: list[float | None] | None, *, last_label: str) -> bytes:
    """One figure, a panel each for what there is to compare, sharing the measures' labels: the per cent change on
    the same quarter last year (rises and falls in two colours), and a borough's rate per 1,000 residents against
    London's (an index, London = 100, so measures of very different size share one axis). One measure or five,
    the bars keep their thickness: the figure's height follows the number of measures."""
    panels = [p for p, on in (("change", changes is not None), ("rate", area_rates is not None)) if on]
    if not panels:
        raise ValueError("nothing to compare")
    with _rc():
        width, height = 7.2, 0.3 * len(labels) + 0.75
        left = _label_width(labels) + 0.15
        fig = Figure(figsize=(width, height))
        fig.subplots_adjust(left=left / width, right=1 - 0.12 / width, top=1 - 0.3 / height, bottom=0.3 / height,
                            wspace=0.08)
        axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)[0]
        y = list(range(len(labels)))[::-1]
        for ax, panel in zip(axes, panels):
            if panel == "change":
                _change_panel(ax, y, changes, f"Change on {last_label}")
            else:
                _rate_panel(ax, y, area_rates, london_rates, "Rate per 1,000, % of London's")
            _style(ax)
            ax.grid(axis="y", visible=False)
            ax.grid(axis="x", color=GRID, linewidth=0.6)
            ax.set_ylim(-0.6, len(labels) - 0.4)
        axes[0].yaxis.set_major_locator(FixedLocator(y))
        axes[0].set_yticklabels(labels, fontsize=LABEL_SIZE)
        return _png(fig)


def _change_panel(ax, y: list[int], changes: list[float | None], title: str) -> None:
    shown = [abs(c) for c in changes if c is not None]
    span = max(shown + [10.0]) * 1.45
    for yi, change in zip(y, changes):
        if change is None:
            ax.text(0, yi, "no comparison", va="center", ha="center", fontsize=7, color="#777777", style="italic",
                    bbox={"facecolor": "white", "edgecolor": "none", "pad": 1})
            continue
        ax.barh(yi, change, color=RISE if change > 0 else FALL, height=0.6)
        pad = span * 0.03
        ax.text(change + pad if change >= 0 else change - pad, yi, _signed(change),
                va="center", ha="left" if change >= 0 else "right", fontsize=7, color=INK)
    ax.axvline(0, color="#666666", linewidth=0.8)
    ax.set_xlim(-span, span)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:+.0f}%".replace("-", "\u2212") if v else "0"))
    ax.set_title(title, loc="left", fontsize=8.5, color=INK, fontweight="bold")


def _rate_panel(ax, y: list[int], area_rates: list[float | None], london_rates: list[float | None],
                title: str) -> None:
    index = [a / b * 100 if a is not None and b else None for a, b in zip(area_rates, london_rates)]
    top = max([i for i in index if i is not None] + [150.0]) * 1.5
    for yi, idx, a, b in zip(y, index, area_rates, london_rates):
        if idx is None:
            ax.text(3, yi, "not available", va="center", ha="left", fontsize=7, color="#777777", style="italic",
                    bbox={"facecolor": "white", "edgecolor": "none", "pad": 1})
            continue
        ax.barh(yi, idx, color=AREA, height=0.6)
        ax.text(idx + top * 0.015, yi, f"{_rate(a)} v {_rate(b)}", va="center", ha="left", fontsize=6.5, color=INK)
    ax.axvline(100, color=LONDON, linewidth=1.4, linestyle="--")
    ax.set_xlim(0, top)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
    ax.set_title(title, loc="left", fontsize=8.5, color=INK, fontweight="bold")


def _rc():
    import matplotlib

    return matplotlib.rc_context(FONT)


def _rate(rate: float) -> str:
    return "<0.01" if 0 < rate < 0.005 else f"{rate:.2f}"


def _signed(change: float) -> str:
    return "0%" if round(change) == 0 else f"{change:+.0f}%".replace("-", "\u2212")
