"""The latent-space chapter's library: Table 1's nets, projected inversion, loss surfaces, Fréchet distance, the
autoencoder, and the image transformations of Figs. 6–8."""

import math

import pytest
import torch
from torch import nn

from lsgan_lib.measure import inversion
from lsgan_lib.chapters import latent_space
from lsgan_lib.measure import features, metrics
from lsgan_lib.train.images import AutoencoderConfig, train_autoencoder
from lsgan_lib.models.nets import IMAGE_NETS, lenet5, resize_conv_critic, resize_conv_generator


# Table 1 (h, w, f_out) per layer, channels first here. CelebA 64×64 as printed; CIFAR-10: one up/down block fewer,
# starting at 1024 maps.
TABLE_1 = {
    64: {"generator": [(2048, 4, 4), (2048, 8, 8), (1024, 8, 8), (1024, 16, 16), (512, 16, 16), (512, 32, 32),
                       (256, 32, 32), (256, 64, 64), (128, 64, 64), (3, 64, 64)],
         "critic": [(256, 32, 32), (256, 32, 32), (512, 16, 16), (512, 16, 16), (1024, 8, 8), (1024, 8, 8),
                    (2048, 4, 4), (2048, 4, 4), (1,)]},
    32: {"generator": [(1024, 4, 4), (1024, 8, 8), (512, 8, 8), (512, 16, 16), (256, 16, 16), (256, 32, 32),
                       (128, 32, 32), (3, 32, 32)],
         "critic": [(256, 16, 16), (256, 16, 16), (512, 8, 8), (512, 8, 8), (1024, 4, 4), (1024, 4, 4), (1,)]},
}


@pytest.mark.parametrize("size", [64, 32])
def test_table_1_shapes_at_the_papers_widths(size):
    # The paper's widths: 2048 maps at 4×4 for CelebA; the CIFAR variant starts at 1024. Built on the meta device
    # (shapes only, no memory), one forward pass on a batch of 2.
    with torch.device("meta"):
        generator, critic = IMAGE_NETS["resize_conv"](100, 3, size, 2048, "none")
        z = torch.randn(2, 100)
        images = torch.randn(2, 3, size, size)
    layers = []
    x = z
    for module in generator:
        x = module(x)
        if isinstance(module, (nn.ReLU, nn.Upsample, nn.Tanh)):
            layers.append(tuple(x.shape[1:]))
    assert layers == TABLE_1[size]["generator"]
    x = images
    layers = []
    for module in critic:
        x = module(x)
        if isinstance(module, (nn.LeakyReLU, nn.Linear)):
            layers.append(tuple(x.shape[1:]))
    assert layers == TABLE_1[size]["critic"]
    convs = [m for m in [*generator, *critic] if isinstance(m, nn.Conv2d)]
    assert all(m.kernel_size == (5, 5) for m in convs)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in critic) == 0  # Table 1's critic has no normalisation


def test_table_1_nets_run_and_use_glorot_initialisation():
    torch.manual_seed(0)
    generator, critic = resize_conv_generator(8, 3, 32, 64), resize_conv_critic(3, 32, 64)
    out = generator(torch.randn(2, 8))
    assert out.shape == (2, 3, 32, 32) and out.abs().max() <= 1
    assert critic(out).shape == (2, 1)
    conv = [m for m in generator if isinstance(m, nn.Conv2d)][0]
    fan_in, fan_out = conv.in_channels * 25, conv.out_channels * 25
    bound = math.sqrt(6 / (fan_in + fan_out))
    assert conv.weight.abs().max() <= bound and conv.weight.abs().max() > 0.9 * bound
    assert float(conv.bias.detach().abs().max()) == 0.0
    with pytest.raises(ValueError, match="divisible by 16"):
        resize_conv_generator(8, 3, 32, 40)
    with pytest.raises(ValueError, match="pixel images"):
        resize_conv_critic(3, 28, 64)


def test_projection_keeps_every_latent_within_the_bound(generator):
    for dim in (1, 2, 10, 100, 1000):
        bound = dim + 3 * math.sqrt(2 * dim)
        assert inversion.latent_ball_bound(dim) == pytest.approx(bound)
        z = torch.randn(500, dim, generator=generator) * torch.logspace(-2, 2, 500)[:, None]
        projected = inversion.project_to_ball(z)
        assert bool((projected.pow(2).sum(dim=1) <= bound * (1 + 1e-5)).all())
        inside = z.pow(2).sum(dim=1) <= bound
        assert torch.equal(projected[inside], z[inside])  # points inside do not move
        outside = ~inside
        assert torch.allclose(projected[outside].pow(2).sum(dim=1), torch.full((int(outside.sum()),), bound),
                              rtol=1e-5)
        # projection keeps the direction
        cosine = nn.functional.cosine_similarity(projected[outside], z[outside], dim=1)
        assert torch.allclose(cosine, torch.ones_like(cosine), atol=1e-5)


def test_projected_inversion_stays_in_the_ball_at_every_step():
    # A generator whose best fit lies far outside the ball: the projected search must stop on its surface.
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 12), nn.Unflatten(1, (3, 2, 2)))
    target = net(torch.full((4, 3), 20.0)).detach()
    result = inversion.invert(net, target, 3, steps=300, lr=0.5)
    bound = inversion.latent_ball_bound(3)
    assert bool((result.z.pow(2).sum(dim=1) <= bound * (1 + 1e-5)).all())
    free = inversion.invert(net, target, 3, steps=300, lr=0.5, project=False)
    assert bool((free.z.pow(2).sum(dim=1) > bound).all())  # without projection it leaves the ball
    assert bool((free.errors < result.errors).all())


def test_inversion_records_when_the_projection_acts():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 12), nn.Unflatten(1, (3, 2, 2)))
    far = net(torch.full((4, 3), 20.0)).detach()  # best fit far outside the ball: the projection acts
    near = net(torch.full((4, 3), 0.1)).detach()  # best fit well inside: it never acts
    pushed = inversion.invert(net, far, 3, steps=200, lr=0.5)
    assert pushed.outside_ball.shape == (4,) and pushed.projection_active > 0.5
    projected = inversion.invert(net, near, 3, steps=200, lr=0.05)
    free = inversion.invert(net, near, 3, steps=200, lr=0.05, project=False)
    assert projected.projection_active == 0.0 and free.projection_active == 0.0
    assert torch.equal(projected.z, free.z) and torch.equal(projected.errors, free.errors)  # never active: identical
    assert bool(inversion.outside_ball(torch.tensor([[0.0, 0.0, 0.0], [10.0, 0.0, 0.0]])).eq(
        torch.tensor([False, True])).all())


def test_overlap_with_the_prior_counts_latents_too_small_and_too_large_as_outside():
    prior = latent_space.prior_norms(100, 20000, seed=0)
    low, high = latent_space.prior_norm_range(prior, 0.99)
    assert low < 10.0 < high  # ‖z‖ of N(0, I_100) concentrates near 10
    draws = torch.randn(2000, 100, generator=torch.Generator().manual_seed(1))
    assert float(latent_space.in_prior_norm_range(draws, (low, high)).mean()) == pytest.approx(0.99, abs=0.01)
    z = torch.zeros(3, 100)
    z[1, 0], z[2, 0] = 10.0, 100.0
    assert latent_space.in_prior_norm_range(z, (low, high)).tolist() == [0.0, 1.0, 0.0]
    with pytest.raises(ValueError, match="mass"):
        latent_space.prior_norm_range(prior, 1.0)


def test_weight_displacement_is_zero_untouched_and_one_for_a_change_as_large_as_the_weights():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Conv2d(2, 3, 3))
    moved = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Conv2d(2, 3, 3))
    moved.load_state_dict(net.state_dict())
    with torch.no_grad():
        moved[0].weight.mul_(2.0)  # W - W0 = W0
    ratios = latent_space.weight_displacement(moved, net)
    assert [name for name, _ in ratios] == ["layer 1 (Linear)", "layer 2 (Conv2d)"]
    assert ratios[0][1] == pytest.approx(1.0) and ratios[1][1] == 0.0
    with pytest.raises(ValueError, match="layers"):
        latent_space.weight_displacement(net[:1], net)


def test_inversion_recovers_the_latent_of_a_small_random_generator(generator):
    torch.manual_seed(1)
    net = nn.Sequential(nn.Linear(4, 32), nn.Tanh(), nn.Linear(32, 48), nn.Unflatten(1, (3, 4, 4)))
    z_true = torch.randn(16, 4, generator=generator) * 0.5  # well inside the ball (‖z‖² ≤ 12.5)
    images = net(z_true).detach()
    result = inversion.invert(net, images, 4, steps=300, lr=0.1)
    assert result.z.shape == (16, 4) and result.reconstructions.shape == images.shape
    assert float((result.z - z_true).abs().max()) < 1e-2
    assert float(result.errors.max()) < 1e-6
    assert result.images_per_second > 0
    assert all(p.requires_grad for p in net.parameters())  # the generator is left as it was found


def test_batched_inversion_equals_one_image_at_a_time():
    torch.manual_seed(2)
    net = nn.Sequential(nn.Linear(5, 27), nn.Tanh(), nn.Unflatten(1, (3, 3, 3)))
    images = torch.rand(6, 3, 3, 3) * 2 - 1
    batch = inversion.invert(net, images, 5, steps=50, lr=0.05)
    single = torch.cat([inversion.invert(net, images[i:i + 1], 5, steps=50, lr=0.05).z for i in range(6)])
    assert torch.allclose(batch.z, single, atol=1e-5)
    chunked = inversion.invert(net, images, 5, steps=50, lr=0.05, chunk=4)
    assert torch.allclose(batch.z, chunked.z, atol=1e-5)


def test_reconstruction_error_by_hand():
    a = torch.zeros(2, 1, 2, 2)
    b = torch.tensor([[1.0, 1.0, 1.0, 1.0], [2.0, 0.0, 0.0, 0.0]]).reshape(2, 1, 2, 2)
    assert inversion.reconstruction_error(a, b).tolist() == [1.0, 1.0]


def test_loss_surface_passes_through_z0_and_z_star():
    torch.manual_seed(3)
    net = nn.Sequential(nn.Linear(6, 12), nn.Tanh(), nn.Unflatten(1, (3, 2, 2)))
    image = torch.rand(3, 2, 2) * 2 - 1
    z0, z_star = torch.randn(6) * 0.3, torch.randn(6)
    surface = inversion.loss_surface(net, image, z_star, z0=z0, n_points=9)
    assert surface.values.shape == (9, 9) and surface.a.shape == (9,)

    def loss(z):
        with torch.no_grad():
            return float((net(z[None]) - image[None]).pow(2).mean())

    assert surface.at(0, 0) == pytest.approx(loss(z0), rel=1e-5)
    assert surface.at(1, 0) == pytest.approx(loss(z_star), rel=1e-5)
    beta = inversion.orthogonal_direction(z_star - z0)
    assert surface.at(-1, 2) == pytest.approx(loss(z0 - (z_star - z0) + 2 * beta), rel=1e-5)
    with pytest.raises(ValueError, match="n_points"):
        inversion.loss_surface(net, image, z_star, n_points=10)


def test_orthogonal_direction_is_the_papers_beta():
    alpha = torch.tensor([3.0, 4.0, 12.0])
    beta = inversion.orthogonal_direction(alpha)
    assert float(beta @ alpha) == pytest.approx(0.0, abs=1e-6)
    assert float(beta.norm()) == pytest.approx(13.0)
    assert beta.tolist() == pytest.approx([4 * 13 / 5, -3 * 13 / 5, 0.0])


def test_frechet_distance_is_zero_against_itself_and_grows_with_noise(generator):
    features = torch.randn(400, 8, generator=generator) @ torch.randn(8, 8, generator=generator)
    assert metrics.frechet_distance(features, features) == pytest.approx(0.0, abs=1e-6)
    distances = [metrics.frechet_distance(features, features + s * torch.randn(400, 8, generator=generator))
                 for s in (0.1, 0.5, 1.0, 2.0)]
    assert all(a < b for a, b in zip(distances, distances[1:])) and distances[0] > 0


def test_frechet_distance_of_known_gaussians():
    # Two sets with exactly known means and covariances: FD = ‖μa − μb‖² + tr(Σa + Σb − 2(ΣaΣb)^½).
    a = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])  # mean 0, covariance 2/3 · I
    b = 2 * a + torch.tensor([3.0, 0.0])  # mean (3, 0), covariance 8/3 · I
    expected = 9 + 2 * (2 / 3 + 8 / 3 - 2 * math.sqrt(16 / 9))
    assert metrics.frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)


def test_network_features_and_lenet():
    net = lenet5(3)
    assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    features = metrics.network_features(net[:-1], torch.zeros(5, 3, 16, 16), size=32)
    assert features.shape == (5, 84)


def test_classifier_learns_a_separable_problem(generator):
    images = torch.randn(64, 1, 32, 32, generator=generator) * 0.1
    labels = torch.arange(64) % 2
    images[labels == 1] += 1.0
    net = metrics.train_classifier(lenet5(1, 2), images, labels, steps=25, batch_size=16, lr=3e-3)
    assert metrics.accuracy(net, images, labels) == 1.0


def test_autoencoder_trains_caches_and_reconstructs():
    config = AutoencoderConfig(dataset="celeba", width=32, latent_dim=8, n_iter=30, batch_size=8, n_train=32,
                               image_size=16)
    try:
        run = train_autoencoder(config, progress=False)
    except FileNotFoundError as error:
        pytest.skip(f"no CelebA copy: {error}")
    assert not run.from_cache and run.losses.shape == (30,)
    assert float(run.losses[-5:].mean()) < float(run.losses[:5].mean())
    images, _ = latent_space.evaluation_images("celeba", "train", 4, 16)
    recon, errors = latent_space.autoencoder_errors(run, images)
    assert recon.shape == (4, 3, 16, 16) and errors.shape == (4,)
    again = train_autoencoder(config, progress=False)
    assert again.from_cache and torch.allclose(again.reconstruct(images), recon)
    assert run.encoder(images).shape == (4, 8)


def test_translate_moves_pixels_and_repeats_the_edge():
    images = torch.arange(8.0).reshape(1, 1, 2, 4)
    right = latent_space.translate(images, 1)
    assert right[0, 0].tolist() == [[0, 0, 1, 2], [4, 4, 5, 6]]
    left = latent_space.translate(images, -2)
    assert left[0, 0].tolist() == [[2, 3, 3, 3], [6, 7, 7, 7]]
    assert torch.equal(latent_space.translate(images, 0), images)
    with pytest.raises(ValueError):
        latent_space.translate(images, 4)


def test_uniform_noise_and_prior_norms():
    noise = latent_space.uniform_noise_images(100, (3, 8, 8), seed=0)
    assert noise.shape == (100, 3, 8, 8) and noise.min() >= -1 and noise.max() <= 1
    assert float(noise.mean()) == pytest.approx(0.0, abs=0.02)
    norms = latent_space.prior_norms(1000, 2000, seed=0)
    assert float(norms.pow(2).mean()) == pytest.approx(1000, rel=0.01)


def test_cached_inversion_reuses_its_result():
    torch.manual_seed(4)
    net = nn.Sequential(nn.Linear(3, 12), nn.Tanh(), nn.Unflatten(1, (3, 2, 2)))
    images = torch.rand(5, 3, 2, 2) * 2 - 1
    first = latent_space.cached_inversion({"net": "test"}, "random 5", net, images, 3, steps=20, lr=0.05)
    second = latent_space.cached_inversion({"net": "test"}, "random 5", net, images, 3, steps=20, lr=0.05)
    assert torch.equal(first.z, second.z) and first.seconds == second.seconds
    other = latent_space.cached_inversion({"net": "test"}, "random 5", net, images, 3, steps=21, lr=0.05)
    assert not torch.equal(first.z, other.z)


def test_excess_kurtosis_of_known_distributions(generator):
    assert metrics.excess_kurtosis(torch.rand(200_000, generator=generator)) == pytest.approx(-1.2, abs=0.02)
    assert metrics.excess_kurtosis(torch.randn(200_000, generator=generator)) == pytest.approx(0.0, abs=0.05)


def test_mixed_precision_inversion_runs_and_stays_close():
    torch.manual_seed(5)
    net = resize_conv_generator(8, 3, 16, 32).eval()
    images = net(torch.randn(4, 8) * 0.5).detach()
    full = inversion.invert(net, images, 8, steps=30, lr=0.1)
    fast = inversion.invert(net, images, 8, steps=30, lr=0.1, amp=True, channels_last=True)
    assert fast.reconstructions.dtype == torch.float32 and fast.z.shape == (4, 8)
    assert float(fast.errors.mean()) == pytest.approx(float(full.errors.mean()), rel=0.5)
    assert next(net.parameters()).is_contiguous()  # the generator is handed back in its own memory format


def test_the_wgan_gp_trains_table_1_nets_and_the_autoencoder_shares_them():
    from lsgan_lib.train.images import build_autoencoder, train_image_gan

    config = latent_space.gan_config("celeba", 8, width=32, image_size=16, n_iter=2, batch_size=4, n_train=16,
                                     snapshots=(0, 2), n_samples=4)
    assert (config.objective, config.lr, config.betas, config.n_critic, config.critic_norm) == (
        "wgan_gp", 1e-4, (0.0, 0.9), 5, "none")
    try:
        run = train_image_gan(config, progress=False)
    except FileNotFoundError as error:
        pytest.skip(f"no CelebA copy: {error}")
    assert run.snapshots.shape == (2, 4, 3, 16, 16) and torch.isfinite(run.losses).all()
    encoder, decoder = build_autoencoder(latent_space.ae_config("celeba", 8, 32, 16, 1, 4, 16), 3, 16)
    convs = [m for m in run.critic if isinstance(m, nn.Conv2d)]
    assert [(m.in_channels, m.out_channels, m.stride) for m in encoder if isinstance(m, nn.Conv2d)] == [
        (m.in_channels, m.out_channels, m.stride) for m in convs]
    assert encoder[-1].out_features == 8 and type(decoder) is type(run.generator)
    assert [type(m) for m in decoder] == [type(m) for m in run.generator]


def test_classifier_confidence_is_the_largest_softmax_probability():
    net = nn.Sequential(nn.Flatten(), nn.Linear(32 * 32, 3))
    with torch.no_grad():
        net[1].weight.zero_(), net[1].bias.copy_(torch.tensor([0.0, 0.0, math.log(8.0)]))
    confidence = features.classifier_confidence(net, torch.zeros(5, 1, 16, 16))
    assert confidence.shape == (5,) and torch.allclose(confidence, torch.full((5,), 0.8))


def test_mean_image_errors_by_hand():
    train = torch.tensor([[[[0.0, 1.0]]], [[[1.0, 1.0]]]])  # (2, 1, 1, 2): mean image [0.5, 1.0]
    images = torch.tensor([[[[0.5, 1.0]]], [[[1.5, 0.0]]]])
    assert latent_space.mean_image_errors(train, images).tolist() == [0.0, pytest.approx((1 + 1) / 2)]


def test_untrained_networks_are_the_initialisation_of_the_config():
    from lsgan_lib.train.images import build_autoencoder, build_image_networks

    config = latent_space.gan_config("celeba", 8, width=16, image_size=16, n_iter=2, batch_size=4, n_train=16)
    generator = latent_space.untrained_generator(config, 3)
    reference, _ = build_image_networks(config, 3, 16)
    assert not generator.training
    assert all(torch.equal(a, b) for a, b in zip(generator.state_dict().values(), reference.state_dict().values()))
    ae_config = latent_space.ae_config("celeba", 8, width=16, image_size=16, n_iter=2, batch_size=4, n_train=16)
    run = latent_space.untrained_autoencoder(ae_config, 3)
    encoder, _ = build_autoencoder(ae_config, 3, 16)
    assert torch.equal(run.encoder[0].weight, encoder[0].weight)
    assert run.reconstruct(torch.zeros(2, 3, 16, 16)).shape == (2, 3, 16, 16)
    assert latent_space.untrained_key(config)["untrained"] is True


def test_other_identity_finds_the_target_or_another_image(generator):
    train = torch.rand(6, 1, 4, 4, generator=generator)
    index = torch.tensor([0, 3])
    # The first reconstruction is its target; the second is (almost) training image 5, not its target 3.
    reconstructions = torch.stack([train[0], train[5] + 0.01])
    own, other = latent_space.other_identity(reconstructions, train[index], train, index)
    assert own[0] == 0 and other[0] > 0
    assert other[1] == pytest.approx(1e-4, rel=1e-3) and own[1] > other[1]


def test_feature_network_refuses_inception_without_its_weights(monkeypatch):
    monkeypatch.setattr(metrics, "standard_fid_network", lambda: None)
    with pytest.raises(RuntimeError, match="feature_net='inception' needs pytorch-fid"):
        features.feature_network("inception", 100, 1)
    with pytest.raises(ValueError, match="feature_net must be one of"):
        features.feature_network("vgg", 100, 1)


def test_digits_covered_counts_classes_with_a_share():
    net = nn.Sequential(nn.Flatten(), nn.Linear(32 * 32, 10))
    with torch.no_grad():
        net[1].weight.zero_(), net[1].bias.zero_()
        net[1].weight[:, 0] = torch.arange(10.0)  # the class follows the sign and size of the first pixel
        net[1].weight[:, 0] -= 4.5
    same = torch.ones(20, 1, 32, 32)
    assert features.digits_covered(net, same) == 1
    mixed = torch.cat([torch.ones(10, 1, 32, 32), -torch.ones(10, 1, 32, 32)])
    assert features.digits_covered(net, mixed) == 2
    assert features.digits_covered(net, mixed, min_share=0.6) == 0
