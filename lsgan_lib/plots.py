"""One look for the whole book: the same colours for data, generated samples and the critic everywhere."""

from __future__ import annotations

import io
from typing import Sequence

import matplotlib

import matplotlib.pyplot as plt
import torch

from .data.distributions import DataManifold

DATA_COLOR = "#3b6ea8"  # real data: blue
GENERATED_COLOR = "#e0672b"  # generated samples: orange
GRID_COLOR = "#7a3b12"  # the image of the latent grid: dark brown
CRITIC_CMAP = "RdBu_r"  # critic values

matplotlib.rcParams.update({"figure.dpi": 100, "savefig.dpi": 100, "axes.titlesize": 9, "font.size": 8})


def samples_over_data(ax, manifold: DataManifold, data: torch.Tensor, generated: torch.Tensor,
                      grid_image: torch.Tensor | None = None, latent_dim: int | None = None, title: str = "") -> None:
    """Draw data ``(n, 2)`` and generated samples ``(m, 2)`` in the manifold's box.

    ``grid_image`` is the generator's image of a latent grid: ``(points, 2)`` from a 1-d latent (drawn as a curve) or
    ``(p*p, 2)`` from a 2-d latent (drawn as the warped grid lines).
    """
    ax.scatter(data[:, 0], data[:, 1], s=2, c=DATA_COLOR, alpha=0.35, linewidths=0, label="data")
    ax.scatter(generated[:, 0], generated[:, 1], s=2, c=GENERATED_COLOR, alpha=0.6, linewidths=0, label="generated")
    if grid_image is not None and latent_dim == 1:
        ax.plot(grid_image[:, 0], grid_image[:, 1], color=GRID_COLOR, lw=0.5, alpha=0.7)
    elif grid_image is not None and latent_dim == 2:
        side = int(round(grid_image.shape[0] ** 0.5))
        mesh = grid_image.reshape(side, side, 2)
        step = max(1, side // 10)
        for i in range(0, side, step):
            ax.plot(mesh[i, :, 0], mesh[i, :, 1], color=GRID_COLOR, lw=0.4, alpha=0.6)
            ax.plot(mesh[:, i, 0], mesh[:, i, 1], color=GRID_COLOR, lw=0.4, alpha=0.6)
    xmin, xmax, ymin, ymax = manifold.bounds
    ax.set_xlim(xmin, xmax), ax.set_ylim(ymin, ymax)
    ax.set_aspect("equal")
    ax.set_xticks([]), ax.set_yticks([])
    ax.set_title(title)
    hidden = outside_box(generated, manifold.bounds)
    if hidden.any():  # samples the fixed box hides: drawn at the box's edge as crosses, so the panel never looks empty
        margin = 0.01 * torch.tensor([xmax - xmin, ymax - ymin])
        low, high = torch.tensor([xmin, ymin]) + margin, torch.tensor([xmax, ymax]) - margin
        edge = torch.maximum(torch.minimum(generated[hidden], high), low)
        ax.scatter(edge[:, 0], edge[:, 1], s=10, marker="x", c=GENERATED_COLOR, linewidths=0.6,
                   label="generated, outside the box (at its edge)")


def outside_box(generated: torch.Tensor, bounds: tuple[float, float, float, float]) -> torch.Tensor:
    """Which generated samples ``(m, 2)`` lie outside the box ``bounds`` = (xmin, xmax, ymin, ymax): ``(m,)`` bool."""
    xmin, xmax, ymin, ymax = bounds
    x, y = generated[:, 0], generated[:, 1]
    return ~((x >= xmin) & (x <= xmax) & (y >= ymin) & (y <= ymax))


def outside_note(generated: torch.Tensor, bounds: tuple[float, float, float, float]) -> str:
    """For a caption or title: what a panel with the fixed box ``bounds`` does not show of the generated samples
    ``(m, 2)`` — ``""`` when every sample is inside, else their share outside and, when most are, their median."""
    outside = outside_box(generated, bounds)
    share = float(outside.float().mean()) if len(generated) else 0.0
    if share == 0:
        return ""
    count = int(outside.sum())
    text = f"{share:.0%} of samples outside" if share >= 0.005 else f"{count} sample{'s' if count > 1 else ''} outside"
    if share > 0.5:
        median = generated[outside].median(dim=0).values
        text += f", median ({float(median[0]):.3g}, {float(median[1]):.3g})"
    return text


def panel_figure(panels: Sequence[dict], ncols: int, title: str, panel_size: float = 2.4,
                 row_labels: Sequence[str] | None = None):
    """A grid of :func:`samples_over_data` panels; each panel is a dict of that function's keyword arguments.

    ``row_labels`` (one per row) are written left of each row. Titles are wrapped to their panel's width and the
    layout makes room for every label, so no text overlaps (see :func:`text_layout_problems`)."""
    nrows = -(-len(panels) // ncols)
    if row_labels is not None and len(row_labels) != nrows:
        raise ValueError(f"panel_figure: {len(row_labels)} row labels for {nrows} rows")
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel_size * ncols, panel_size * nrows + 0.4), squeeze=False)
    for ax, panel in zip(axes.flat, panels):
        samples_over_data(ax, **panel)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    for row, label in enumerate(row_labels or []):
        axes[row, 0].set_ylabel(label)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, markerscale=4, frameon=False)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.5 / fig.get_figheight(), 1, 1))
    fit_titles(fig)
    lines = max(ax.title.get_text().count("\n") for ax in axes.flat)  # grow the figure by the wrapped lines
    if lines:
        line_height = 1.25 * matplotlib.rcParams["axes.titlesize"] / 72 if isinstance(
            matplotlib.rcParams["axes.titlesize"], (int, float)) else 0.16
        fig.set_figheight(fig.get_figheight() + nrows * lines * line_height)
    lay_out(fig, rect=(0, 0.5 / fig.get_figheight(), 1, 1))
    return fig


def _wrap(text: str, width: float, measure) -> str:
    """``text`` with each line broken between words so that no line is wider than ``width`` (in the units of
    ``measure(line)``); a single word wider than that stays on its own line."""
    lines = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split(" "):
            candidate = f"{line} {word}" if line else word
            if line and measure(candidate) > width:
                lines.append(line)
                line = word
            else:
                line = candidate
        lines.append(line)
    return "\n".join(lines)


def fit_titles(fig) -> None:
    """Wrap every axes title onto as many lines as it needs to fit its axes' width, and the figure's title to the
    figure's width (measured with the figure's renderer)."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()

    def measurer(text):
        properties = text.get_fontproperties()
        return lambda line: renderer.get_text_width_height_descent(line, properties, ismath=False)[0]

    for ax in fig.axes:
        if ax.get_visible() and ax.title.get_text():
            ax.title.set_text(_wrap(ax.title.get_text(), ax.get_window_extent(renderer).width * 1.02,
                                    measurer(ax.title)))
    suptitle = fig._suptitle
    if suptitle is not None and suptitle.get_text():
        suptitle.set_text(_wrap(suptitle.get_text(), fig.bbox.width * 0.96, measurer(suptitle)))


def lay_out(fig, rect=(0, 0, 1, 1)) -> None:
    """``tight_layout`` with every title wrapped to fit (:func:`fit_titles`): titles, labels and the figure's title
    get the room they need. Use it instead of ``fig.tight_layout()``."""
    fig.tight_layout(rect=rect)
    fit_titles(fig)
    fig.tight_layout(rect=rect)


def figure_png(fig, dpi: int = 72) -> bytes:
    """The figure as PNG bytes; the figure is closed."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    return buffer.getvalue()


def snapshot_slider(frames: Sequence[bytes], iterations: Sequence[int], description: str = "iteration"):
    """A slider over training iterations that shows one pre-rendered PNG frame per snapshot.

    The slider and the frames are linked in the browser (``jslink``), so the slider keeps working in the static HTML
    book, where no kernel runs.
    """
    import ipywidgets as widgets

    if len(frames) != len(iterations) or not frames:
        raise ValueError(f"snapshot_slider needs one frame per iteration, got {len(frames)} and {len(iterations)}")
    images = [widgets.Image(value=png, format="png", layout=widgets.Layout(max_width="100%")) for png in frames]
    stack = widgets.Stack(images, selected_index=len(images) - 1)
    slider = widgets.SelectionSlider(options=[str(i) for i in iterations], value=str(iterations[-1]),
                                     description=description, continuous_update=True,
                                     layout=widgets.Layout(width="60%"))
    widgets.jslink((slider, "index"), (stack, "selected_index"))
    return widgets.VBox([slider, stack])


def metric_bars(ax, labels: Sequence[str], values: torch.Tensor, reference: Sequence[float] | None = None,
                title: str = "", ylabel: str = "") -> None:
    """Bars of the mean over seeds with every seed as a dot; ``values`` is ``(n_labels, n_seeds)``.

    ``reference`` marks, per bar, what a perfect generator (an independent data sample) scores.
    """
    x = list(range(len(labels)))
    ax.bar(x, values.mean(dim=1).tolist(), color=GENERATED_COLOR, alpha=0.7, width=0.6)
    for j in range(values.shape[1]):
        ax.scatter(x, values[:, j].tolist(), color="black", s=8, zorder=3)
    if reference is not None:
        ax.scatter(x, reference, marker="_", s=400, color=DATA_COLOR, zorder=4, label="data vs data (ceiling)")
        ax.legend(loc="best", frameon=False)
    ax.set_xticks(x, labels)
    renderer = ax.figure.canvas.get_renderer()
    widest = max((t.get_window_extent(renderer).width for t in ax.get_xticklabels()), default=0.0)
    if widest > 0.9 * ax.get_window_extent(renderer).width / max(len(labels), 1):  # too wide side by side: upright
        ax.set_xticks(x, labels, rotation=90, ha="center", va="top")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel(ylabel)
    ax.set_title(title)


def image_tile(images: torch.Tensor, nrow: int = 8, pad: int = 1) -> torch.Tensor:
    """Tile images ``(n, C, H, W)`` in [−1, 1] into one picture ``(rows·(H+pad)−pad, nrow·(W+pad)−pad, C)`` in [0, 1],
    row by row, with white padding. One channel stays one channel (draw it with a grey colormap)."""
    if images.ndim != 4:
        raise ValueError(f"image_tile needs images (n, C, H, W), got {tuple(images.shape)}")
    n, c, h, w = images.shape
    rows = -(-n // nrow)
    canvas = torch.ones(c, rows * (h + pad) - pad, nrow * (w + pad) - pad)
    for i, image in enumerate(images.detach().float().cpu().clamp(-1, 1).add(1).div(2)):
        r, col = divmod(i, nrow)
        canvas[:, r * (h + pad): r * (h + pad) + h, col * (w + pad): col * (w + pad) + w] = image
    return canvas.permute(1, 2, 0)


def image_grid(ax, images: torch.Tensor, nrow: int = 8, title: str = "") -> None:
    """Draw images ``(n, C, H, W)`` in [−1, 1] as a grid of ``nrow`` columns on ``ax`` (grey for one channel)."""
    tile = image_tile(images, nrow)
    ax.imshow(tile[..., 0] if tile.shape[-1] == 1 else tile, cmap="gray" if tile.shape[-1] == 1 else None,
              vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([]), ax.set_yticks([])
    if title:
        ax.set_title(title)


def critic_level_sets(ax, field: torch.Tensor, field_x: torch.Tensor, field_y: torch.Tensor, manifold: DataManifold,
                      data: torch.Tensor | None = None, generated: torch.Tensor | None = None,
                      grid_image: torch.Tensor | None = None, latent_dim: int | None = None, title: str = "",
                      levels: int = 15, centred: bool = True):
    """The level-set view of a critic f: filled contours of f over the plane, the zero level set f⁻¹(0) bold.

    ``field`` is ``(P, P)`` with ``field[i, j]`` = f at ``(field_x[j], field_y[i])`` (``(P,)`` each). The colour scale
    is symmetric about 0 (blue below, red above, white at the zero level set); ``centred=False`` spans f's own range
    instead (for critics whose offset carries no meaning, such as WGAN's). Data ``(n, 2)``, generated samples
    ``(m, 2)`` and the image of a latent grid are drawn on top as in :func:`samples_over_data`. Returns the contour
    set (for a colour bar) and whether a zero level set was drawn (``False`` when f does not change sign in view).
    """
    values = field.detach().float()
    if values.ndim != 2 or values.shape != (len(field_y), len(field_x)):
        raise ValueError(f"critic_level_sets needs a (len(field_y), len(field_x)) field, got {tuple(values.shape)} "
                         f"for axes of {len(field_y)} and {len(field_x)} points")
    if not bool(torch.isfinite(values).all()):
        raise ValueError("critic_level_sets: the critic's field holds NaN or infinite values (a diverged critic); "
                         "draw a snapshot from before the divergence")
    if centred:
        bound = float(values.abs().max()) or 1.0
        low, high = -bound, bound
    else:
        low, high = float(values.min()), float(values.max())
        if high - low <= 1e-12 * max(1.0, abs(high)):
            low, high = low - 1.0, high + 1.0
    filled = ax.contourf(field_x, field_y, values, levels=torch.linspace(low, high, 2 * levels + 1).tolist(),
                         cmap=CRITIC_CMAP, alpha=0.85)
    crosses_zero = float(values.min()) < 0 < float(values.max())
    if crosses_zero:
        ax.contour(field_x, field_y, values, levels=[0.0], colors="black", linewidths=1.6)
    if data is not None or generated is not None:
        samples_over_data(ax, manifold, data if data is not None else torch.zeros(0, 2),
                          generated if generated is not None else torch.zeros(0, 2), grid_image, latent_dim, title)
    else:
        xmin, xmax, ymin, ymax = manifold.bounds
        ax.set_xlim(xmin, xmax), ax.set_ylim(ymin, ymax)
        ax.set_aspect("equal"), ax.set_xticks([]), ax.set_yticks([])
        ax.set_title(title)
    return filled, crosses_zero

def curve_pair(ax, p, q, n_points: int = 4000) -> None:
    """Draw two curve distributions (:class:`lsgan_lib.measure.alignment.CurveDistribution`, in R²) piece by piece: P in
    the data colour, Q in the generated colour (dashed), with equal aspect."""
    import numpy as np

    for dist, colour, style, width in ((p, DATA_COLOR, "-", 2.5), (q, GENERATED_COLOR, "--", 1.2)):
        for piece, mass in zip(dist.pieces, dist.masses):
            if mass == 0:
                continue
            count = max(2, int(n_points * piece.length / dist.length))
            xy = piece.points(np.linspace(0.0, piece.length, count))
            ax.plot(xy[:, 0], xy[:, 1], color=colour, ls=style, lw=width)
    ax.set_aspect("equal")
    ax.set_xticks([]), ax.set_yticks([])

# ---------------------------------------------------------------------------------------------------------------------
# The latent-space chapter (paper 004): reconstruction columns, weight histograms, loss surfaces, curves over dim(z).
# ---------------------------------------------------------------------------------------------------------------------


def reconstruction_columns(ax, ground_truth: torch.Tensor, columns: Sequence[torch.Tensor], labels: Sequence[str],
                           title: str = "") -> None:
    """The paper's Figs. 5, 7, 8, 12: one row per image, the ground truth ``(n, C, H, W)`` in the first column, then
    one column per entry of ``columns`` (each ``(n, C, H, W)``, e.g. one per dim(z)), labelled by ``labels``."""
    if len(columns) != len(labels):
        raise ValueError(f"reconstruction_columns needs one label per column, got {len(columns)} and {len(labels)}")
    n, ncol = ground_truth.shape[0], 1 + len(columns)
    stacked = torch.stack([ground_truth, *[c[:n] for c in columns]], dim=1).flatten(0, 1)  # row-major: image, column
    image_grid(ax, stacked, nrow=ncol, title=title)
    width = ground_truth.shape[-1] + 1
    ax.set_xticks([width * i + width / 2 - 1 for i in range(ncol)], ["GT", *labels])


def weight_histograms(ax, layers: Sequence[tuple[str, torch.Tensor]], title: str = "", bins: int = 60) -> None:
    """The paper's Fig. 1: one density histogram per layer's flattened weights, standardised per layer
    (w / std(w)) so layers of different scale share one axis, with the standard normal density for reference."""
    import math

    grid = torch.linspace(-4, 4, 200)
    for name, weights in layers:
        w = weights.float()
        ax.hist((w / w.std()).clamp(-4, 4).numpy(), bins=bins, density=True, histtype="step", lw=0.8, label=name)
    ax.plot(grid, torch.exp(-grid ** 2 / 2) / math.sqrt(2 * math.pi), color="black", lw=1.2, ls="--",
            label="N(0, 1)")
    ax.set_xlabel("weight / std of its layer")
    ax.set_title(title)


def loss_surface_plot(ax, surface, title: str = "") -> None:
    """The paper's Fig. 2: filled contours of f(a, b); z₀ at (0, 0) and z* at (1, 0) marked."""
    contour = ax.contourf(surface.a.numpy(), surface.b.numpy(), surface.values.T.numpy(), levels=20, cmap="viridis")
    ax.plot([0], [0], "o", color="white", ms=4, label="z₀")
    ax.plot([1], [0], "*", color=GENERATED_COLOR, ms=8, label="z*")
    ax.set_xlabel("a (towards z*)"), ax.set_ylabel("b (orthogonal)")
    ax.set_title(title)
    ax.figure.colorbar(contour, ax=ax, fraction=0.046, pad=0.04)


# ---------------------------------------------------------------------------------------------------------------------
# Text that reads: the check every figure of the book can be held to (tests/test_plots_layout.py).
# ---------------------------------------------------------------------------------------------------------------------

BOOK_COLUMN_PX = 688  # the width of the book's text column: a wider image is shown scaled down to it
MIN_TEXT_PX = 7.0  # the smallest font size, in pixels as shown on the page, that still reads


def _drawn_texts(fig) -> list:
    """The non-empty text artists the figure draws: titles, suptitle, axis and tick labels, legends, annotations."""
    from matplotlib.text import Text

    texts = list(fig.texts)
    legends = list(fig.legends)
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        texts += [ax.title, ax._left_title, ax._right_title, *ax.texts]
        if ax.axison:
            for axis in (ax.xaxis, ax.yaxis):
                if axis.get_visible():
                    texts += [axis.label, axis.get_offset_text()]
                    ticks = axis._update_ticks()  # the ticks inside the view, as drawn
                    texts += [label for tick in ticks for label in (tick.label1, tick.label2) if tick.get_visible()]
        if ax.get_legend() is not None:
            legends.append(ax.get_legend())
    for legend in legends:
        if legend.get_visible():
            texts += [*legend.get_texts(), legend.get_title()]
    return [t for t in texts if isinstance(t, Text) and t.get_visible() and t.get_text().strip()]


def text_layout_problems(fig, dpi: float | None = None, column_px: float = BOOK_COLUMN_PX,
                         min_text_px: float = MIN_TEXT_PX, clipped: bool = True) -> list[str]:
    """What keeps the figure's text from reading, as the book shows it: pairs of text boxes that overlap, text cut
    off at the figure's edge, and text smaller than ``min_text_px`` on the page (the figure rendered at ``dpi``,
    default its own, and scaled down to ``column_px`` when wider). Empty when the text reads. The figure is drawn.

    ``clipped=False`` skips the edge check, for figures shown inline (``plt.show()``), which Jupyter saves with
    ``bbox_inches="tight"`` so text beyond the edge widens the picture instead of being cut; slider frames
    (:func:`figure_png`) are saved at the figure's own size and are cut."""
    if dpi is not None:
        fig.set_dpi(dpi)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    width, height = fig.bbox.width, fig.bbox.height
    scale = min(1.0, column_px / width)
    texts = [(t, t.get_window_extent(renderer)) for t in _drawn_texts(fig)]
    problems = []

    def name(text) -> str:
        return repr(text.get_text().replace("\n", " ")[:40])

    for text, box in texts:
        if clipped and (box.x0 < -1 or box.y0 < -1 or box.x1 > width + 1 or box.y1 > height + 1):
            problems.append(f"cut off at the figure's edge: {name(text)}")
        shown = text.get_fontsize() * fig.dpi / 72 * scale
        if shown < min_text_px:
            problems.append(f"too small: {name(text)} is {shown:.1f} px on the page (at least {min_text_px})")
    for i, (a, box_a) in enumerate(texts):
        for b, box_b in texts[i + 1:]:
            overlap_x = min(box_a.x1, box_b.x1) - max(box_a.x0, box_b.x0)
            overlap_y = min(box_a.y1, box_b.y1) - max(box_a.y0, box_b.y0)
            if overlap_x > 1 and overlap_y > 1:
                problems.append(f"overlap: {name(a)} and {name(b)}")
    return problems


VERDICT_COLORS = {"reproduced": "#2e7d32", "not reproduced": "#c62828", "inconclusive": "#f9a825",
                  "not tested": "#9e9e9e"}  # the badges' colours (claims.BADGE); missing: white


def verdict_map(rows: Sequence[dict], points: Sequence[str], title: str = "", per_row: int = 24):
    """A sweep's verdicts as a map: one row per claim (numbered 1, 2, … in order of first appearance, as the sweep's
    report numbers them), one column per point (in the sweep's order; ``per_row`` points per panel, panels stacked so
    the figure fits the book's column), each cell coloured by the verdict; white where a point has no such claim.
    ``rows`` are dicts with ``point``, ``paper``, ``claim`` and ``verdict``."""
    import math

    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    from .measure.claims import VERDICTS

    claims = list(dict.fromkeys((r["paper"], r["claim"]) for r in rows))
    index = {v: i for i, v in enumerate(VERDICTS)}
    grid = torch.full((len(claims), len(points)), float("nan"))
    for r in rows:
        grid[claims.index((r["paper"], r["claim"])), list(points).index(r["point"])] = index[r["verdict"]]
    panels = max(1, math.ceil(len(points) / per_row))
    columns = min(len(points), per_row)
    label_height = 0.09 * max(len(p) for p in points)  # the point names, turned upright
    fig, axes = plt.subplots(panels, 1, squeeze=False, figsize=(0.9 + 0.27 * columns, panels * (0.35 + 0.25 * len(
        claims) + label_height) + 0.6), layout="constrained")
    cmap = ListedColormap([VERDICT_COLORS[v] for v in VERDICTS]).with_extremes(bad="white")
    for k, ax in enumerate(axes[:, 0]):
        shown = list(range(k * per_row, min(len(points), (k + 1) * per_row)))
        ax.imshow(grid[:, shown].numpy(), cmap=cmap, vmin=-0.5, vmax=len(VERDICTS) - 0.5, aspect="auto",
                  interpolation="nearest", extent=(-0.5, len(shown) - 0.5, len(claims) - 0.5, -0.5))
        ax.set_xlim(-0.5, columns - 0.5)
        ax.set_xticks(range(len(shown)), [points[j] for j in shown], rotation=90)
        ax.set_yticks(range(len(claims)), [str(i + 1) for i in range(len(claims))])
        ax.set_ylabel("claim")
        ax.set_xticks([x - 0.5 for x in range(1, len(shown))], minor=True)
        ax.set_yticks([y - 0.5 for y in range(1, len(claims))], minor=True)
        ax.grid(which="minor", color="white", lw=1)
        ax.tick_params(which="minor", length=0)
    fig.legend(handles=[Patch(color=VERDICT_COLORS[v], label=v) for v in VERDICTS], loc="outside lower center",
               ncols=len(VERDICTS), frameon=False)
    fig.suptitle(title)
    return fig
