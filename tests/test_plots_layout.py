"""Every figure-producing helper of ``plots.py``, drawn on smoke data the way the chapters draw it, must have text
that reads: no two text boxes overlap, nothing is cut off at the edge, nothing is too small on the page
(``plots.text_layout_problems``, measured with matplotlib's renderer). The data are small random stand-ins: the
layout does not depend on training."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from lsgan_lib.data import distributions
from lsgan_lib.measure import alignment as geometry
from lsgan_lib import plots  # noqa: E402
from lsgan_lib.measure.inversion import LossSurface  # noqa: E402

PANELS = [("Fig. 1", data, "gaussian", dim) for data in ("lattice_3x3", "spiral", "gaussian_plane") for dim in (1, 2)]
PANELS += [("Fig. 2", data, z, 2) for data in ("nine_squares", "uniform_square") for z in ("uniform", "disconnected")]


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def panel(data, z, dim, title=None, seed=0):
    """``samples_over_data`` arguments with the geometric_view chapter's panel title."""
    generator = torch.Generator().manual_seed(seed)
    manifold = distributions.data_manifold(data)
    points = manifold.sample(300, generator)
    grid = torch.randn((400 if dim == 1 else 41 * 41, 2), generator=generator)
    if title is None:
        title = f"{manifold.label}\nlatent: {distributions.latent(z).label}, dim {dim}"
    return dict(manifold=manifold, data=points, generated=points + 0.1 * torch.randn(points.shape, generator=generator),
                grid_image=grid, latent_dim=dim, title=title)


def assert_reads(fig, dpi=None):
    problems = plots.text_layout_problems(fig, dpi=dpi)
    assert problems == [], problems


# --- the check itself can fail -----------------------------------------------------------------------------------


def test_the_check_finds_overlapping_cut_off_and_tiny_text():
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.set_title("a long title that runs into the next one")
    ax.text(0.5, 1.02, "a second title on top", transform=ax.transAxes)
    fig.text(0.9, 0.5, "cut off at the right edge of the figure")
    ax.set_xlabel("tiny", fontsize=3)
    problems = plots.text_layout_problems(fig)
    assert any(p.startswith("overlap:") and "long title" in p for p in problems)
    assert any(p.startswith("cut off") and "cut off at the right" in p for p in problems)
    assert any(p.startswith("too small:") and "tiny" in p for p in problems)
    inline = plots.text_layout_problems(fig, clipped=False)  # saved with a tight bounding box: nothing is cut
    assert not any(p.startswith("cut off") for p in inline) and any(p.startswith("overlap") for p in inline)


def test_a_figure_wider_than_the_column_is_judged_at_its_shown_size():
    fig, ax = plt.subplots(figsize=(20, 2))  # 2,000 px shown at 688: 8 pt text becomes 3.8 px
    ax.set_title("shrunk")
    assert any("too small" in p for p in plots.text_layout_problems(fig))


def test_wrapping_breaks_between_words_within_the_width():
    assert plots._wrap("one two three four", 9, len) == "one two\nthree\nfour"
    assert plots._wrap("a\nb c", 10, len) == "a\nb c"
    assert plots._wrap("unbreakableword", 3, len) == "unbreakableword"


# --- each helper, as the chapters use it ---------------------------------------------------------------------------


@pytest.mark.parametrize("which, ncols", [("Fig. 1", 2), ("Fig. 2", 2)])
def test_panel_figure_of_the_papers_figures(which, ncols):
    fig = plots.panel_figure([panel(*p[1:]) for p in PANELS if p[0] == which], ncols=ncols,
                             title=f"Paper {which} — GAN in different dimensions, iteration 1500")
    assert_reads(fig)


@pytest.mark.parametrize("dpi", [72, 100])
def test_the_slider_frame_of_every_panel_fits_its_titles(dpi):
    """geometric_view's slider frame: ten panels in two rows of five (titles overlapped and were cut off before)."""
    fig = plots.panel_figure([panel(*p[1:]) for p in PANELS], ncols=5, panel_size=2.0,
                             title="Paper Figs. 1–2 at iteration 1500")
    assert_reads(fig, dpi=dpi)
    frames = [plots.figure_png(fig, dpi=dpi)]
    assert plots.snapshot_slider(frames, [1500]).children[1].children[0].value == frames[0]


def test_the_training_strip_with_row_labels():
    snapshots = [0, 100, 250, 500, 1000, 1500]
    strip = [panel(*p[1:], title="") for p in PANELS for _ in snapshots]
    fig = plots.panel_figure(strip, ncols=len(snapshots), panel_size=1.35,
                             title="Paper Figs. 1–2 through training: rows are panels, columns iterations "
                                   + ", ".join(map(str, snapshots)),
                             row_labels=[f"{p[0]}\n{p[1]}\n{p[2]} ×{p[3]}" for p in PANELS])
    assert_reads(fig)
    with pytest.raises(ValueError, match="row labels"):
        plots.panel_figure(strip[:6], ncols=6, title="", row_labels=["a", "b"])


def test_metric_bars_with_the_chapters_labels():
    labels = [f"{p[1]}\n{p[2]} ×{p[3]}" for p in PANELS]
    values = torch.rand(len(PANELS), 3, generator=torch.Generator().manual_seed(0))
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))  # the chapter's 11 in shrink 8 pt text below 7 px
    plots.metric_bars(axes[0], labels, values, [0.9] * len(labels), title="coverage at ε = 0.05",
                      ylabel="share of data points")
    plots.metric_bars(axes[1], labels, values, [0.9] * len(labels), title="on-manifold share at ε = 0.05",
                      ylabel="share of generated samples")
    fig.suptitle("Paper Figs. 1–2 measured: mean over seeds (bars), each seed (dots)")
    plots.lay_out(fig)
    assert_reads(fig)


def test_critic_level_sets_side_by_side():
    eight = distributions.data_manifold("eight_gaussians")
    x, y = torch.linspace(-2, 2, 30), torch.linspace(-2, 2, 30)
    field = x[None, :] ** 2 + y[:, None] ** 2 - 1
    points = eight.sample(200, torch.Generator().manual_seed(0))
    fig, axes = plt.subplots(1, 2, figsize=(6.6, 3.6))
    plots.samples_over_data(axes[0], eight, points, points, None, 2, "as in the paper: samples and grid")
    plots.critic_level_sets(axes[1], field, x, y, eight, points, points, None, 2,
                            "with the critic's level sets; f⁻¹(0) bold")
    fig.suptitle("Paper Fig. 2 (left) — Level Set GAN on 8 Gaussians, n_gen = 5, iteration 1000")
    plots.lay_out(fig)
    assert_reads(fig)


def test_image_grids_under_a_figure_title():
    """level_set's MNIST/CelebA figure (its title overlapped the panels' titles before)."""
    generator = torch.Generator().manual_seed(0)
    fig, axes = plt.subplots(1, 2, figsize=(10, 5.2))
    plots.image_grid(axes[0], torch.rand(64, 1, 28, 28, generator=generator) * 2 - 1, 8, "MNIST, iteration 400")
    plots.image_grid(axes[1], torch.rand(64, 3, 64, 64, generator=generator) * 2 - 1, 8, "CelebA subset, iteration 300")
    fig.suptitle("Paper Fig. 2 (middle, right) — Level Set GAN samples with DCGAN architectures (Gaussian noise)")
    plots.lay_out(fig)
    assert_reads(fig)


def test_reconstruction_columns():
    generator = torch.Generator().manual_seed(0)
    dims = [8, 16, 32, 64, 128]
    truth = torch.rand(6, 3, 32, 32, generator=generator) * 2 - 1
    fig, axes = plt.subplots(1, 2, figsize=(10, 1.0 + 0.9 * 6))  # the chapter's 13 in shrink its labels to 5 px
    for ax, model in zip(axes, ("AE", "WGAN-GP")):
        plots.reconstruction_columns(ax, truth, [truth] * len(dims), [str(k) for k in dims],
                                     title=f"{model} — columns: dim(z)")
    fig.suptitle("Paper Fig. 5 — CelebA training images and their reconstructions")
    plots.lay_out(fig)
    assert_reads(fig)


def test_weight_histograms_with_a_legend():
    generator = torch.Generator().manual_seed(0)
    layers = [(f"layer {i}", torch.randn(500, generator=generator)) for i in range(5)]
    fig, axes = plt.subplots(2, 3, figsize=(10, 6))  # the chapter's 12 in shrink 8 pt text to 6.4 px
    for ax in axes.flat:
        plots.weight_histograms(ax, layers, title="celeba: dim(z) = 128")
    axes[0, -1].legend(frameon=False)
    fig.suptitle("Paper Fig. 1 — generator weights per layer, standardised (cpu profile)")
    plots.lay_out(fig)
    assert_reads(fig)


def test_loss_surfaces_with_colour_bars():
    a = torch.linspace(-2, 2, 21)
    surface = LossSurface(a=a, b=a, values=(a[:, None] - 1) ** 2 + a[None, :] ** 2)
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.4))  # the chapter's 13 in shrink 8 pt text to 5.3 px
    for ax, dim in zip(axes, (8, 64, 512)):
        plots.loss_surface_plot(ax, surface, title=f"dim(z) = {dim}")
    axes[0].legend(loc="upper left")
    fig.suptitle("Paper Fig. 2 — loss surface around a CelebA training image (cpu profile)")
    plots.lay_out(fig)
    assert_reads(fig)


def test_curve_pairs_with_their_numbers():
    pairs = geometry.figure1_pairs()
    fig, axes = plt.subplots(1, len(pairs), figsize=(10, 3.4))  # the chapter's 13 in shrink it to 5.3 px
    for ax, (name, (p, q)) in zip(axes, pairs.items()):
        plots.curve_pair(ax, p, q, n_points=400)
        ax.set_title(f"{name}\nJSD = 0.6931 (log 2 = 0.6931), common length = 0.00\nW1 = 0.0100, W2 = 0.0100")
    fig.suptitle("Paper Fig. 1 — aligned and transversal supports")
    plots.lay_out(fig)
    assert_reads(fig)


def test_a_panel_shows_the_generated_samples_its_box_hides_at_its_edge():
    # A collapsed or exploded generator puts its samples outside the manifold's fixed box; the panel must show them
    # (as crosses on the box's edge) rather than look like a generator that drew nothing, and outside_note says how
    # many for a caption.
    eight = distributions.data_manifold("eight_gaussians")
    points = eight.sample(300, torch.Generator().manual_seed(0))
    inside = points.clamp(-1.5, 1.5)
    far = torch.full((200, 2), 40.0) + torch.randn(200, 2, generator=torch.Generator().manual_seed(1))
    fig, axes = plt.subplots(1, 3, figsize=(7.5, 2.8))
    plots.samples_over_data(axes[0], eight, points, inside, None, 2, "inside")
    plots.samples_over_data(axes[1], eight, points, far, None, 2, "all outside")
    some = torch.cat([inside[:150], far[:50]])
    plots.samples_over_data(axes[2], eight, points, some, None, 2, "some outside")
    xmin, xmax, ymin, ymax = eight.bounds
    assert len(axes[0].collections) == 2  # data, generated: nothing drawn at the edge
    edge = axes[1].collections[-1].get_offsets()
    assert edge.shape == (200, 2) and (edge[:, 0] <= xmax).all() and (edge[:, 0] > 0.9 * xmax).all()
    assert axes[2].collections[-1].get_offsets().shape == (50, 2)
    assert plots.outside_note(inside, eight.bounds) == ""
    assert plots.outside_note(far, eight.bounds).startswith("100% of samples outside, median (40")
    assert plots.outside_note(some, eight.bounds) == "25% of samples outside"
    assert plots.outside_note(torch.cat([inside, far[:1]]), eight.bounds) == "1 sample outside"
    assert_reads(fig)
