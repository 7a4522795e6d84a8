"""The toy training loop: K GANs of one architecture shape trained as one batched model; a single run is K = 1.

``train_gan(GANConfig(...))`` trains one run (or loads it from the results cache under ``config.as_dict()``),
``train_runs([...])`` several in order under one progress bar, ``train_batched([...])`` K runs — seeds ×
configurations — at once, and ``train_sweep([...])`` any list of runs, batched by shape. All of them run one loop,
:func:`_train_batched`. The K generators (and the K critics) are stacked into one model whose linear layers are
batched matrix products (``torch.baddbmm``; at K = 1 the plain ``addmm`` of ``nn.Linear``) over weights
``(K, out, in)``, whose batch norm keeps statistics per member, and whose optimizer (RMSprop, or Adam for WGAN-GP)
keeps its state and learning-rate schedule per member. Every member draws its data, latent and evaluation batches
from its own seed's streams (:func:`lsgan_lib.train.config.random_stream`) and its networks are initialised by
:func:`lsgan_lib.train.config.build_networks`, so member k's numbers equal those of ``train_gan(configs[k])`` up to
float rounding (different matrix-product kernels round differently). These GANs amplify rounding, so the
results-cache key of a batch member names the batch it was trained in (:func:`batch_keys`), and a batch with any
member missing from the cache is retrained whole: a run's numbers never depend on what else was cached, and
``train_gan``'s entries (keyed by the configuration alone) are separate.

The members must share the architecture shape and the loop (data dimension, ``latent_dim``, ``widths``,
``batch_size``, ``n_iter``, ``snapshots``, ``n_eval``, ``n_critic``, ``n_gen``, ``critic_update``, ``critic_warmup``,
``precision``, ``critic_batch_norm``, ``sample_statistics``) and the objective; they may differ in ``seed``, ``data``,
``latent``, ``lr``, ``lr_decay``, ``lr_decay_every``, ``weight_decay``, ``loss_reduction`` and the RMSprop constants.

Divergence: ``train_gan`` raises :class:`~lsgan_lib.train.config.TrainingDiverged` at the first non-finite loss and
caches nothing. In a batch, a member whose loss becomes NaN or infinite is *frozen* — its parameters, optimizer state
and batch-norm statistics keep the values they had before that step — reported with a warning and in
``run.extra["diverged_at"]``, and cached with that iteration; the other members go on.

Shapes: K members, B = ``batch_size``, d = data dimension, ``latent_dim`` = latent dimension. A stacked net maps
``(K, n, in_dim)`` to ``(K, n, out_dim)``; per-member losses are ``(K,)``.
"""

from __future__ import annotations

import contextlib
import time
import warnings
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from .. import cache
from ..data.distributions import data_manifold, latent
from ..models.nets import ACTIVATIONS, FastELU, fast_elu
from ..models.objectives import objective, traits
from .cluster import map_here_or_on_cluster, train_here_or_on_cluster
from .config import (ADAM_EPS, CACHE_KIND, GANConfig, GANRun, TrainingDiverged, autocast, build_networks,
                     check_gan_payload, critic_steps, default_device, device_name, evaluation_inputs, optimizer_of,
                     random_stream, run_from_payload)
from .progress import ProgressBar

SHARED_FIELDS = ("latent_dim", "widths", "batch_size", "n_iter", "snapshots", "n_eval", "n_critic", "n_gen",
                 "objective", "batch_norm", "activation", "critic_update", "critic_warmup", "precision",
                 "optimizer", "adam_betas", "critic_batch_norm", "sample_statistics")
# What a GANRun is built from; any other payload entry (a chapter's extras) lands in run.extra.
RUN_PAYLOAD_KEYS = {"generator", "critic", "snapshot_iters", "snapshots", "grid", "grid_images", "losses", "device",
                    "seconds"}
BN_MOMENTUM, BN_EPS = 0.1, 1e-5  # nn.BatchNorm1d's defaults, which fc_net uses
# fc_net's activations (PyTorch's defaults), as functions of the stacked activations
_ACTIVATION_FUNCTIONS = {FastELU: fast_elu, nn.ELU: F.elu, nn.ReLU: F.relu, nn.LeakyReLU: F.leaky_relu}


# ---------------------------------------------------------------------------------------------------------------------
# torch.compile
# ---------------------------------------------------------------------------------------------------------------------

# torch.compile's modes; "reduce-overhead" also replays the compiled kernels as CUDA graphs on a GPU.
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
COMPILE_RECOMPILE_LIMIT = 64  # graphs per compiled function and process (see compile_scope)


def check_compile_mode(compile_mode: str | None, objective_name: str) -> None:
    """Raise ``ValueError`` for a mode torch.compile does not have, or for an objective with a gradient penalty
    (its double backward through compiled code is not supported by torch.compile)."""
    if compile_mode is None:
        return
    if compile_mode not in COMPILE_MODES:
        raise ValueError(f"compile_mode={compile_mode!r} is not a torch.compile mode; use None (eager) or one of "
                         f"{COMPILE_MODES}")
    if traits(objective(objective_name)).gradient_penalty:
        raise ValueError(f"compile_mode={compile_mode!r} cannot train {objective_name!r}: its gradient penalty needs a "
                         "double backward, which torch.compile does not support; train it with compile_mode=None")


@contextlib.contextmanager
def compile_scope(compile_mode: str | None) -> Iterator[None]:
    """Where the compiled nets and updates run. Each (K, batch, evaluation size, grad mode) compiles graphs of its own
    (about six of :func:`stacked_forward` per batched model), more than torch.compile's default of 8 recompilations
    per function allows in a sweep of several shapes, after which it would fall back to eager silently. Inside, the
    limit is :data:`COMPILE_RECOMPILE_LIMIT` and reaching it raises."""
    if compile_mode is None:
        yield
        return
    with torch._dynamo.config.patch(recompile_limit=COMPILE_RECOMPILE_LIMIT, fail_on_recompile_limit_hit=True):
        try:
            yield
        except torch._dynamo.exc.FailOnRecompileLimitHit as error:
            raise RuntimeError(f"compile_mode={compile_mode!r}: torch.compile compiled the stacked networks more than "
                               f"{COMPILE_RECOMPILE_LIMIT} times in this process (each batch shape, number of members "
                               "and evaluation size compiles its own graphs); train fewer shapes per process, or "
                               "use compile_mode=None") from error


def _compiled(fn: Callable, compile_mode: str | None, static: Sequence[torch.Tensor]) -> Callable:
    """``fn``, or ``torch.compile(fn, mode=compile_mode)``. The ``static`` tensors (parameters, optimizer state and
    batch-norm statistics, updated in place and never reallocated) are marked as static addresses, so that CUDA
    graphs ("reduce-overhead") neither copy them at each replay nor skip a graph that updates them."""
    if compile_mode is None:
        return fn
    for t in static:
        torch._dynamo.mark_static_address(t)
    return torch.compile(fn, mode=compile_mode, dynamic=False)


def stacked_forward(x: torch.Tensor, weights: list[torch.Tensor], biases: list[torch.Tensor],
                    bn_weights: list[torch.Tensor], bn_biases: list[torch.Tensor], running_means: list[torch.Tensor],
                    running_vars: list[torch.Tensor], training: bool, activation: Callable,
                    momentum: float = 0.1, use_running: bool = False) -> torch.Tensor:
    """The stacked nets of :class:`StackedFC`: ``(K, n, in_dim)`` → ``(K, n, out_dim)``.

    Layer i is ``baddbmm(biases[i], h, weights[i]ᵀ)`` with ``weights[i]`` ``(K, out, in)``; hidden layers then apply
    per-member batch norm (when ``bn_weights`` is not empty: one ``F.batch_norm`` on the ``(n, K * width)`` layout,
    which updates ``running_means[i]``/``running_vars[i]`` ``(K, 1, width)`` in place in training mode) and
    ``activation``. ``momentum`` is the running statistics' update weight; with ``use_running`` a training pass
    updates them and then normalises with them (as constants) instead of the batch's statistics. At K = 1 the layers run
    on ``(n, width)`` with ``nn.Linear``'s ``F.linear`` and ``nn.BatchNorm1d``'s ``F.batch_norm``: one matrix product
    instead of a batch of one, and no layout changes."""
    single = x.shape[0] == 1
    h = x.squeeze(0) if single else x  # squeeze, not [0]: indexing's backward would allocate and fill a stack
    for i in range(len(weights) - 1):
        h = _linear(h, weights[i], biases[i], single)
        if bn_weights:
            h = _batch_norm(h, bn_weights[i], bn_biases[i], running_means[i], running_vars[i], training, single,
                            momentum, use_running)
        h = activation(h)
    h = _linear(h, weights[-1], biases[-1], single)
    return h.unsqueeze(0) if single else h


def _linear(h: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, single: bool) -> torch.Tensor:
    """``(K, n, in)`` → ``(K, n, out)`` with ``weight`` ``(K, out, in)`` and ``bias`` ``(K, 1, out)``; with
    ``single`` (K = 1) ``(n, in)`` → ``(n, out)``."""
    if single:
        return F.linear(h, weight.squeeze(0), bias.view(-1))
    return torch.baddbmm(bias, h, weight.transpose(1, 2))


def _batch_norm(h: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, running_mean: torch.Tensor,
                running_var: torch.Tensor, training: bool, single: bool, momentum: float = BN_MOMENTUM,
                use_running: bool = False) -> torch.Tensor:
    """Per-member batch norm of ``(K, n, width)`` (statistics over ``n``), as one ``F.batch_norm`` on the
    ``(n, K * width)`` layout; with ``single`` (K = 1) of ``(n, width)``. Parameters and statistics ``(K, 1, width)``.
    With ``use_running`` and ``training``: the batch updates the running statistics (weight ``momentum``), then it
    is normalised with the updated running statistics, constants for autograd (copies, so a later pass may update
    them before this one's backward)."""
    flat = h if single else h.transpose(0, 1).reshape(h.shape[1], -1)
    mean, var = running_mean.view(-1), running_var.view(-1)
    if training and use_running:
        with torch.no_grad():
            F.batch_norm(flat.detach(), mean, var, None, None, True, momentum, BN_EPS)
        mean, var, training = mean.clone(), var.clone(), False
    flat = F.batch_norm(flat, mean, var, weight.view(-1), bias.view(-1), training, momentum, BN_EPS)
    return flat if single else flat.view(h.shape[1], h.shape[0], -1).transpose(0, 1)


# ---------------------------------------------------------------------------------------------------------------------
# Stacked networks
# ---------------------------------------------------------------------------------------------------------------------


class StackedFC:
    """K copies of :func:`lsgan_lib.models.nets.fc_net` with their own weights, evaluated as one model.

    Linear layer i holds ``weights[i]`` ``(K, out, in)`` and ``biases[i]`` ``(K, 1, out)``; hidden layer i's batch norm
    holds ``bn_weights[i]``, ``bn_biases[i]`` ``(K, 1, width)`` and running statistics ``(K, 1, width)`` that are views
    into one buffer, so they can be saved and restored in one operation. Batch norm normalises each member's batch on
    its own (statistics over the ``n`` axis of ``(K, n, width)``), updates running statistics like
    ``nn.BatchNorm1d`` in training mode (momentum 0.1, unbiased running variance) and uses them in eval mode. Nets
    built with ``batch_norm=False`` (the WGAN-GP toy MLP) stack too; the activation is read from the nets.
    ``compile_mode`` (see :data:`COMPILE_MODES`) evaluates :func:`stacked_forward` through ``torch.compile``.
    ``precision`` (:data:`lsgan_lib.train.config.PRECISIONS`) is the training forward pass's arithmetic: ``"bf16"``
    runs it under :func:`lsgan_lib.train.config.autocast` and returns float32; the stacked parameters and statistics
    stay float32, and in eval mode (snapshots, a snapshot hook's fields) the nets compute in float32, as the returned
    ``fc_net`` modules do. ``statistics`` is ``"batch"`` (batch norm in training mode normalises with the batch's
    statistics) or ``"running"`` (with the running statistics after the batch's update: GANConfig's
    ``critic_batch_norm="running"``).
    """

    def __init__(self, nets: Sequence[nn.Sequential], device: torch.device | str = "cpu",
                 compile_mode: str | None = None, precision: str = "fp32", statistics: str = "batch"):
        linears = [[m for m in net if isinstance(m, nn.Linear)] for net in nets]
        norms = [[m for m in net if isinstance(m, nn.BatchNorm1d)] for net in nets]
        self.members, self.depth = len(nets), len(linears[0])
        self.batch_norm = bool(norms[0])
        if self.batch_norm and len(norms[0]) != self.depth - 1:
            raise ValueError("StackedFC stacks fc_net networks: one batch norm per hidden layer, or none")
        kinds = {type(m) for net in nets for m in net if type(m) in _ACTIVATION_FUNCTIONS}
        if len(kinds) > 1 or (self.depth > 1 and not kinds):
            raise ValueError(f"StackedFC stacks fc_net networks with one activation of {sorted(ACTIVATIONS)}; "
                             f"found {sorted(k.__name__ for k in kinds)}")
        self.activation = _ACTIVATION_FUNCTIONS[kinds.pop()] if kinds else fast_elu
        self._stride = 3 if self.batch_norm else 2  # modules per hidden layer in fc_net's Sequential

        def stack(tensors, shape):
            return torch.stack([t.detach() for t in tensors]).reshape(shape).to(device).contiguous()

        k = self.members
        self.weights = [stack([ls[i].weight for ls in linears], (k, -1, linears[0][i].in_features))
                        for i in range(self.depth)]
        self.biases = [stack([ls[i].bias for ls in linears], (k, 1, -1)) for i in range(self.depth)]
        hidden = range(self.depth - 1) if self.batch_norm else range(0)
        self.bn_weights = [stack([ns[i].weight for ns in norms], (k, 1, -1)) for i in hidden]
        self.bn_biases = [stack([ns[i].bias for ns in norms], (k, 1, -1)) for i in hidden]
        widths = [n.num_features for n in norms[0]]
        # Running statistics: layer-major, one contiguous (K * width) block per layer and statistic.
        self.buffers = torch.zeros(2 * k * sum(widths), device=device)
        self.running_means, self.running_vars, self._blocks, offset = [], [], [], 0
        for i, width in enumerate(widths):
            for target, name in ((self.running_means, "running_mean"), (self.running_vars, "running_var")):
                view = self.buffers[offset:offset + k * width].view(k, 1, width)
                view.copy_(stack([getattr(ns[i], name) for ns in norms], (k, 1, width)))
                target.append(view)
                self._blocks.append((offset, width))
                offset += k * width
        self.batches_tracked = int(norms[0][0].num_batches_tracked) if norms[0] else 0
        self.training, self.precision = True, precision
        self.use_running, self.momentum = statistics == "running", BN_MOMENTUM
        self._cast, self._cast_key = [], None  # bf16 casts of the linear parameters (see _linear_parameters)
        for p in self.parameters():
            p.requires_grad_(True)
        self._forward = _compiled(stacked_forward, compile_mode,
                                  self.parameters() + self.running_means + self.running_vars)

    def parameters(self) -> list[torch.Tensor]:
        """The stacked parameters in the order of ``fc_net(...).parameters()``: weight, bias (, bn weight, bn bias)."""
        params = []
        for i in range(self.depth):
            params += [self.weights[i], self.biases[i]]
            if self.batch_norm and i < self.depth - 1:
                params += [self.bn_weights[i], self.bn_biases[i]]
        return params

    def requires_grad_(self, flag: bool) -> "StackedFC":
        for p in self.parameters():
            p.requires_grad_(flag)
        return self

    def train(self, mode: bool = True) -> "StackedFC":
        self.training = mode
        return self

    def eval(self) -> "StackedFC":
        return self.train(False)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """``(K, n, in_dim)`` → ``(K, n, out_dim)`` in float32; in training mode the running statistics are updated."""
        precision = self.precision if self.training else "fp32"
        weights, biases = self._linear_parameters(precision)
        with autocast(precision, x.device):
            out = self._forward(x, weights, biases, self.bn_weights, self.bn_biases, self.running_means,
                                self.running_vars, self.training, self.activation, self.momentum, self.use_running)
        if self.training and self.batch_norm:
            self.batches_tracked += 1
        return out.float()

    @torch.no_grad()
    def sample_with_batch_statistics(self, x: torch.Tensor, others: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Outputs ``(K, n, out_dim)`` for ``x`` ``(K, n, in_dim)`` normalised with the statistics of ``x`` itself
        (training mode, as paper 002's code draws its samples), and ``(K, m, out_dim)`` for ``others`` ``(K, m,
        in_dim)`` normalised with those same statistics (the running variance's unbiased form: a factor n/(n − 1)),
        in float32; the running statistics and the batch count are left as they were."""
        saved, tracked, mode, precision = self.buffers.clone(), self.batches_tracked, self.training, self.precision
        try:
            self.training, self.precision, self.momentum = True, "fp32", 1.0  # momentum 1: running := x's statistics
            out = self(x)
            self.training = False
            return out, self(others)
        finally:
            self.buffers.copy_(saved)
            self.batches_tracked, self.training, self.precision, self.momentum = tracked, mode, precision, BN_MOMENTUM

    def _linear_parameters(self, precision: str) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """The linear layers' weights and biases as the forward pass in ``precision`` uses them: the float32 stacks,
        or (bf16) their bfloat16 casts, made once and reused until a parameter changes (an optimizer step or the
        clipping bumps its version) or the gradient mode changes — the cast autocast would make at every call, shared,
        as autocast shares the cast of a leaf parameter, by the calls on the real and the generated batch of a step."""
        if precision == "fp32":
            return self.weights, self.biases
        tensors = self.weights + self.biases
        key = (torch.is_grad_enabled(), tensors[0].requires_grad, tuple(t._version for t in tensors))
        if self._cast_key != key:
            self._cast = [t.to(torch.bfloat16) for t in tensors]
            self._cast_key = key
        return self._cast[:self.depth], self._cast[self.depth:]

    def member_state_dict(self, k: int) -> dict[str, torch.Tensor]:
        """Member ``k`` as the state dict of an ``fc_net`` (Linear, BatchNorm1d, ELU, …), on the CPU."""
        state, step = {}, self._stride
        for i in range(self.depth):
            state[f"{step * i}.weight"] = self.weights[i][k].detach().cpu().clone()
            state[f"{step * i}.bias"] = self.biases[i][k, 0].detach().cpu().clone()
            if self.batch_norm and i < self.depth - 1:
                state[f"{3 * i + 1}.weight"] = self.bn_weights[i][k, 0].detach().cpu().clone()
                state[f"{3 * i + 1}.bias"] = self.bn_biases[i][k, 0].detach().cpu().clone()
                state[f"{3 * i + 1}.running_mean"] = self.running_means[i][k, 0].cpu().clone()
                state[f"{3 * i + 1}.running_var"] = self.running_vars[i][k, 0].cpu().clone()
                state[f"{3 * i + 1}.num_batches_tracked"] = torch.tensor(self.batches_tracked)
        return state

    def restore_buffers(self, saved: torch.Tensor, frozen: torch.Tensor) -> None:
        """Put back the running statistics of the members where ``frozen`` ``(K,)`` is true from ``saved`` (a clone of
        ``self.buffers``)."""
        k = self.members
        for offset, width in self._blocks:
            now = self.buffers[offset:offset + k * width].view(k, 1, width)
            before = saved[offset:offset + k * width].view(k, 1, width)
            now.copy_(torch.where(frozen.view(k, 1, 1), before, now))


# ---------------------------------------------------------------------------------------------------------------------
# Optimizers on stacked parameters, with per-member hyper-parameters
# ---------------------------------------------------------------------------------------------------------------------


def _per_member(values: Sequence[float], device) -> torch.Tensor:
    """Per-member hyper-parameters as a float32 ``(K, 1, 1)`` tensor (each value rounded from double, as torch.optim
    rounds a Python number)."""
    return torch.tensor(values, dtype=torch.float32, device=device).view(-1, 1, 1)


class StackedOptimizer:
    """RMSprop or Adam applied elementwise to stacked parameters ``(K, …)``, with per-member learning rate, weight
    decay and (RMSprop) α, ε, and a per-member step schedule ``lr_k · decay_k^⌊t / every_k⌋`` (``StepLR``).

    The formulas and their order of floating-point operations are those of ``torch.optim.RMSprop`` /
    ``torch.optim.Adam`` (single-tensor implementations, no momentum, not centred, L2 weight decay added to the
    gradient; ``addcdiv(p, g, a, value=-lr)`` is ``p − (lr·g)/a``), so one member's update is bit-for-bit
    torch.optim's, whatever the other members' hyper-parameters are (the tests check this). ``step(frozen)`` leaves
    the parameters and state of members where ``frozen`` ``(K,)`` is true unchanged. ``compile_mode`` (see
    :data:`COMPILE_MODES`) runs the update (:func:`rmsprop_update` / :func:`adam_update`) through ``torch.compile``.
    """

    def __init__(self, params: list[torch.Tensor], configs: Sequence[GANConfig], compile_mode: str | None = None):
        device = params[0].device
        self.kind, self.betas = optimizer_of(configs[0])
        self.params, self.device = params, device
        self.lrs = [c.lr for c in configs]
        self.decay, self.every = [c.lr_decay for c in configs], [c.lr_decay_every for c in configs]
        # Hyper-parameters shared by every member (always at K = 1) are Python numbers: the update then runs
        # torch.optim's fused scalar operations instead of broadcasting (K, 1, 1) tensors. Compiled updates take
        # tensors only (a Python number would be baked into the graph and recompiled at each learning rate).
        self._scalars = compile_mode is None
        decays = [c.weight_decay for c in configs]
        self.weight_decay = self._hyper(decays) if any(decays) else None
        self.alpha = self._hyper([c.rmsprop_alpha for c in configs])
        self.one_minus_alpha = self._hyper([1 - c.rmsprop_alpha for c in configs])
        self.eps = self._hyper([c.rmsprop_eps for c in configs])
        self.state = [[torch.zeros_like(p) for p in params] for _ in range(2 if self.kind == "adam" else 1)]
        self.steps = 0
        update = adam_update if self.kind == "adam" else rmsprop_update
        self._update = _compiled(update, compile_mode, params + [t for s in self.state for t in s])

    def _hyper(self, values: Sequence[float]) -> float | torch.Tensor:
        """A per-member hyper-parameter: one Python number when the members share it (and updates are not
        compiled), else a float32 ``(K, 1, 1)`` tensor."""
        if self._scalars and all(v == values[0] for v in values):
            return float(values[0])
        return _per_member(values, self.device)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def schedule_step(self, iteration: int) -> None:
        """After ``iteration`` (1-based): multiply member k's lr by its decay when ``iteration`` is a multiple of its
        ``lr_decay_every`` (as ``StepLR.step()`` does, in double precision)."""
        self.lrs = [lr * g if iteration % every == 0 else lr for lr, g, every in zip(self.lrs, self.decay, self.every)]

    @torch.no_grad()
    def step(self, frozen: torch.Tensor | None = None) -> None:
        """One update of every member; members with ``frozen[k]`` keep their parameters and state."""
        saved = None
        if frozen is not None:
            saved = [[t.clone() for t in self.params]] + [[t.clone() for t in s] for s in self.state]
        self.steps += 1
        live = [i for i, p in enumerate(self.params) if p.grad is not None]
        params, grads = [self.params[i] for i in live], [self.params[i].grad for i in live]
        states = [[s[i] for i in live] for s in self.state]
        if self.kind == "adam":  # step size lr / (1 − β1^t), in double precision as torch.optim.Adam
            step_size = self._hyper([lr / (1 - self.betas[0] ** self.steps) for lr in self.lrs])
            bias_correction2_sqrt = (1 - self.betas[1] ** self.steps) ** 0.5
            if not self._scalars:
                bias_correction2_sqrt = torch.tensor(bias_correction2_sqrt, device=self.device)
            self._update(params, grads, *states, step_size, bias_correction2_sqrt, self.betas, self.weight_decay)
        else:
            self._update(params, grads, *states, self._hyper(self.lrs), self.alpha, self.one_minus_alpha,
                         self.eps, self.weight_decay)
        if saved is not None:
            mask = frozen.view(-1, 1, 1)
            for tensors, before in zip([self.params] + self.state, saved):
                for t, old in zip(tensors, before):
                    t.copy_(torch.where(mask, old, t))


def _decayed(grad: torch.Tensor, p: torch.Tensor, weight_decay: float | torch.Tensor | None) -> torch.Tensor:
    """The gradient with L2 weight decay added, ``grad + wd·p`` (``grad.add(p, alpha=wd)`` in torch.optim)."""
    if weight_decay is None:
        return grad
    if isinstance(weight_decay, float):
        return grad.add(p, alpha=weight_decay)
    return torch.addcmul(grad, weight_decay, p)


def _step_down(p: torch.Tensor, lr: float | torch.Tensor, numerator: torch.Tensor, denominator: torch.Tensor) -> None:
    """``p − (lr·numerator)/denominator`` in place: ``addcdiv_(…, value=−lr)`` (torch.optim's) for a shared ``lr``,
    the same operations written out for a per-member ``(K, 1, 1)`` one."""
    if isinstance(lr, float):
        p.addcdiv_(numerator, denominator, value=-lr)
    else:
        p.sub_((lr * numerator).div_(denominator))


def rmsprop_update(params: list[torch.Tensor], grads: list[torch.Tensor], square_avgs: list[torch.Tensor],
                   lr: float | torch.Tensor, alpha: float | torch.Tensor, one_minus_alpha: float | torch.Tensor,
                   eps: float | torch.Tensor, weight_decay: float | torch.Tensor | None) -> None:
    """RMSprop on stacked tensors ``(K, …)`` in place, with hyper-parameters shared (Python numbers) or per member
    (``(K, 1, 1)``); the operations of ``torch.optim.RMSprop``'s single-tensor step."""
    for p, grad, square_avg in zip(params, grads, square_avgs):
        grad = _decayed(grad, p, weight_decay)
        square_avg.mul_(alpha)
        if isinstance(one_minus_alpha, float):
            square_avg.addcmul_(grad, grad, value=one_minus_alpha)
        else:
            square_avg.addcmul_(one_minus_alpha * grad, grad)
        _step_down(p, lr, grad, square_avg.sqrt().add_(eps))


def adam_update(params: list[torch.Tensor], grads: list[torch.Tensor], exp_avgs: list[torch.Tensor],
                exp_avg_sqs: list[torch.Tensor], step_size: float | torch.Tensor,
                bias_correction2_sqrt: float | torch.Tensor, betas: tuple[float, float],
                weight_decay: float | torch.Tensor | None) -> None:
    """Adam on stacked tensors in place; ``step_size`` is lr / (1 − β1^t), shared or per member ``(K, 1, 1)``, and
    ``bias_correction2_sqrt`` √(1 − β2^t); the operations of ``torch.optim.Adam``'s single-tensor step."""
    beta1, beta2 = betas
    for p, grad, exp_avg, exp_avg_sq in zip(params, grads, exp_avgs, exp_avg_sqs):
        grad = _decayed(grad, p, weight_decay)
        exp_avg.lerp_(grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(ADAM_EPS)
        _step_down(p, step_size, exp_avg, denom)


# ---------------------------------------------------------------------------------------------------------------------
# Per-member random streams
# ---------------------------------------------------------------------------------------------------------------------


@dataclass
class _Members:
    """Everything per member that is not a network: samplers, random streams, evaluation inputs."""

    configs: list[GANConfig]
    batches: list[torch.Generator]  # random_stream(seed, 0): training batches
    reduction: torch.Tensor  # (K,): 1 for a batch-mean loss, batch_size for a summed one (GANConfig.loss_reduction)
    z_eval: torch.Tensor  # (K, n_eval, latent_dim)
    grids: torch.Tensor  # (K, grid_points, latent_dim)

    @classmethod
    def build(cls, configs: list[GANConfig], device: torch.device) -> "_Members":
        batches, z_eval, grids = [], [], []
        for c in configs:
            batches.append(random_stream(c.seed, 0, device))
            z, grid = evaluation_inputs(c, device)
            z_eval.append(z), grids.append(grid)
        reduction = torch.tensor([float(c.batch_size) if c.loss_reduction == "sum" else 1.0 for c in configs],
                                 device=device)
        return cls(configs, batches, reduction, torch.stack(z_eval), torch.stack(grids))

    def reduce(self, loss_value: torch.Tensor) -> torch.Tensor:
        """The per-member losses ``(K,)`` (batch means) as each member's ``loss_reduction`` wants them."""
        if all(c.loss_reduction == "mean" for c in self.configs):
            return loss_value
        return loss_value * self.reduction

    def real(self) -> torch.Tensor:
        """A data batch per member from its own stream: ``(K, B, d)``."""
        return torch.stack([data_manifold(c.data).sample(c.batch_size, g) for c, g in zip(self.configs, self.batches)])

    def latents(self) -> torch.Tensor:
        """A latent batch per member from its own stream: ``(K, B, latent_dim)``."""
        return torch.stack([latent(c.latent).sample(c.batch_size, c.latent_dim, g)
                            for c, g in zip(self.configs, self.batches)])

    def mix(self) -> torch.Tensor:
        """Gradient-penalty interpolation weights per member: ``(K, B, 1)``."""
        return torch.stack([torch.rand((c.batch_size, 1), generator=g, device=g.device)
                            for c, g in zip(self.configs, self.batches)])


# ---------------------------------------------------------------------------------------------------------------------
# The batched loop
# ---------------------------------------------------------------------------------------------------------------------


def check_same_shape(configs: Sequence[GANConfig]) -> None:
    """Raise ``ValueError`` naming the first field in which the configurations cannot share one batched model."""
    if not configs:
        raise ValueError("train_batched needs at least one configuration")
    dims = {data_manifold(c.data).dim for c in configs}
    if len(dims) > 1:
        raise ValueError(f"train_batched: the configurations differ in data dimension ('data': {sorted(dims)}); "
                         "batch only runs of one architecture shape")
    for name in SHARED_FIELDS:
        values = [getattr(c, name) for c in configs]
        if any(v != values[0] for v in values):
            raise ValueError(f"train_batched: the configurations differ in {name!r} ({sorted(set(map(str, values)))}); "
                             "batch only runs of one architecture shape and loop, or train them in separate batches")


class _Divergence:
    """Which members are frozen, and since when. Losses are checked after every step (one host sync per step). With
    ``raises`` (the single-run API) a non-finite loss raises :class:`~lsgan_lib.train.config.TrainingDiverged`
    instead of freezing the member."""

    def __init__(self, configs: list[GANConfig], device, recorded: bool = False, raises: bool = False):
        self.configs, self.recorded, self.raises = configs, recorded, raises
        self.frozen = torch.zeros(len(configs), dtype=torch.bool, device=device)
        self.at: list[int | None] = [None] * len(configs)

    def any(self) -> bool:
        return any(a is not None for a in self.at)

    def mask(self) -> torch.Tensor | None:
        """``(K,)`` true for frozen members, or ``None`` when none is frozen."""
        return self.frozen if self.any() else None

    def check(self, values: torch.Tensor, iteration: int, which: str) -> None:
        """Freeze the members whose loss ``(K,)`` is not finite (from this step on) and warn about each."""
        finite = torch.isfinite(values)
        if bool(finite.all()):
            return
        for k in (~finite).nonzero().flatten().tolist():
            if self.raises:
                raise TrainingDiverged(
                    f"training diverged: the {which} loss became {values[k].item()} at iteration {iteration} "
                    f"({self.configs[k].describe()}). Lower lr, change the seed, or pick another objective; nothing "
                    "was cached.")
            if self.at[k] is None:
                self.at[k] = iteration
                self.frozen[k] = True
                fate = "cached as a result" if self.recorded else "cached with that iteration"
                who, rest = ((f"batched member {k}", "; the others go on") if len(self.configs) > 1
                             else ("run", ""))
                warnings.warn(f"training diverged: the {which} loss of the {who} became {values[k].item()} at "
                              f"iteration {iteration} ({self.configs[k].describe()}); it is frozen, reported in "
                              f"run.extra['diverged_at'] and {fate}{rest}.", RuntimeWarning, stacklevel=4)


def _step(loss_value: torch.Tensor, nets: Sequence[StackedFC], optimizer: StackedOptimizer, saved: list[torch.Tensor],
          divergence: _Divergence, iteration: int, which: str) -> torch.Tensor:
    """Check the per-member loss ``(K,)``, back-propagate its sum, update the unfrozen members, and put back the batch
    norm statistics of frozen members (``saved``: the nets' buffers before the step). Returns the detached loss."""
    divergence.check(loss_value.detach(), iteration, which)
    frozen = divergence.mask()
    optimizer.zero_grad()
    loss_value.sum().backward()
    optimizer.step(frozen)
    if frozen is not None:
        for net, before in zip(nets, saved):
            net.restore_buffers(before, frozen)
    return loss_value.detach()


def _critic_step(loss, generator: StackedFC, critic: StackedFC, optimizer: StackedOptimizer, members: _Members,
                 divergence: _Divergence, iteration: int) -> torch.Tensor:
    """One critic update of every member on ``(K, B, d)`` batches; the draws are the single-run trainer's."""
    saved = [generator.buffers.clone(), critic.buffers.clone()]
    real = members.real()
    with torch.no_grad():
        fake = generator(members.latents())
    how = traits(loss)
    if members.configs[0].critic_update == "split":  # paper 002's original code: real batch, then generated batch
        value = _step(members.reduce(loss.critic_loss_real(critic, real)), (generator, critic), optimizer, saved,
                      divergence, iteration, "critic")
        saved = [generator.buffers.clone(), critic.buffers.clone()]
        return value + _step(members.reduce(loss.critic_loss_fake(critic, fake)), (generator, critic), optimizer,
                             saved, divergence, iteration, "critic")
    if how.gradient_penalty:
        value = loss.critic_loss(critic, real, fake, members.mix())
    else:
        value = loss.critic_loss(critic, real, fake)
    value = _step(members.reduce(value), (generator, critic), optimizer, saved, divergence, iteration, "critic")
    if how.clip is not None:
        with torch.no_grad():
            for p in critic.parameters():
                p.clamp_(-how.clip, how.clip)
    return value


def _generator_step(loss, generator: StackedFC, critic: StackedFC, optimizer: StackedOptimizer, members: _Members,
                    divergence: _Divergence, iteration: int) -> torch.Tensor:
    """One generator update of every member; the critics get no gradient."""
    saved = [generator.buffers.clone(), critic.buffers.clone()]
    critic.requires_grad_(False)
    try:
        if traits(loss).uses_critic:
            value = loss.generator_loss(critic, generator(members.latents()))
        else:
            real = members.real()
            value = loss.generator_loss(critic, generator(members.latents()), real)
        return _step(members.reduce(value), (generator, critic), optimizer, saved, divergence, iteration, "generator")
    finally:
        critic.requires_grad_(True)


@torch.no_grad()
def _evaluate(generator: StackedFC, members: _Members) -> tuple[torch.Tensor, torch.Tensor]:
    """Samples ``(K, n_eval, d)`` for the fixed latents and grid images ``(K, grid_points, d)``: in eval mode, or with
    ``sample_statistics="batch"`` normalised with the statistics of the fixed latents' batch (training mode, as
    paper 002's code draws; an untrained generator then spreads its samples instead of giving a point mass)."""
    if members.configs[0].sample_statistics == "batch":
        samples, images = generator.sample_with_batch_statistics(members.z_eval, members.grids)
        return samples.cpu(), images.cpu()
    generator.eval()
    samples, images = generator(members.z_eval), generator(members.grids)
    generator.train()
    return samples.cpu(), images.cpu()


def _train_batched(configs: list[GANConfig], device: torch.device, bar,
                   snapshot_extra: Callable[[StackedFC, StackedFC], dict[str, torch.Tensor]] | None = None,
                   record_divergence: bool = False, compile_mode: str | None = None, raise_divergence: bool = False
                   ) -> tuple[list[dict], list[int | None]]:
    """The toy training loop: train the members together; return one cache payload per member and each member's
    divergence iteration. A single run is K = 1.

    The batch stream's draws, per iteration and member: for each critic step a data batch, a latent batch and
    (gradient penalty only) the interpolation weights; for each generator step (objectives without a critic only) a
    data batch, then a latent batch.

    ``snapshot_extra(generator, critic)`` is the snapshot hook: called with the stacked nets at every snapshot, it
    returns tensors ``(K, ...)``, stored per member and stacked over the snapshots in each payload (the level-set
    chapter's critic fields). With ``record_divergence`` a diverged member's losses are NaN from the iteration that
    diverged, its remaining snapshots repeat the last one taken before it, and its payload says ``diverged_at`` and
    ``reached`` (its networks are those before the step that diverged: the member was frozen there); with
    ``raise_divergence`` a non-finite loss raises :class:`~lsgan_lib.train.config.TrainingDiverged`; otherwise the
    member is frozen and warned about. ``compile_mode`` is that of :func:`train_batched`; the members'
    ``precision`` that of their configurations (:func:`lsgan_lib.train.config.autocast`)."""
    started = time.perf_counter()
    shape, loss = configs[0], objective(configs[0].objective)
    check_compile_mode(compile_mode, shape.objective)
    pairs = [build_networks(c) for c in configs]
    generator = StackedFC([g for g, _ in pairs], device, compile_mode, shape.precision)
    critic = StackedFC([d for _, d in pairs], device, compile_mode, shape.precision,
                       "running" if shape.critic_batch_norm == "running" else "batch")
    opt_g = StackedOptimizer(generator.parameters(), configs, compile_mode)
    opt_d = StackedOptimizer(critic.parameters(), configs, compile_mode)
    members = _Members.build(configs, device)
    divergence = _Divergence(configs, device, recorded=record_divergence, raises=raise_divergence)

    k = len(configs)
    losses = torch.zeros(k, shape.n_iter, 2, device=device)
    snapshots, grid_images, extras = [], [], []

    def snapshot():
        samples, images = _evaluate(generator, members)
        snapshots.append(samples), grid_images.append(images)
        if snapshot_extra is not None:
            extras.append({name: value.cpu() for name, value in snapshot_extra(generator, critic).items()})

    with compile_scope(compile_mode):
        if 0 in shape.snapshots:
            snapshot()
        d_loss = torch.zeros(k, device=device)
        for it in range(1, shape.n_iter + 1):
            for _ in range(critic_steps(shape, it) if traits(loss).uses_critic else 0):
                d_loss = _critic_step(loss, generator, critic, opt_d, members, divergence, it)
            for _ in range(shape.n_gen):
                g_loss = _generator_step(loss, generator, critic, opt_g, members, divergence, it)
            opt_d.schedule_step(it), opt_g.schedule_step(it)
            losses[:, it - 1, 0], losses[:, it - 1, 1] = d_loss, g_loss
            if it in shape.snapshots:
                snapshot()
            if bar is not None and (it % 50 == 0 or it == shape.n_iter):
                bar.update(50 if it % 50 == 0 else it % 50)

    seconds = (time.perf_counter() - started) / k
    losses, snapshots, grid_images = losses.cpu(), torch.stack(snapshots, 1), torch.stack(grid_images, 1)
    stacked_extras = {name: torch.stack([extra[name] for extra in extras], 1) for name in (extras[0] if extras else ())}
    reached = [len(shape.snapshots)] * k
    for j, at in enumerate(divergence.at):
        if at is None:
            continue
        if not record_divergence:
            losses[j, at:] = float("nan")  # frozen from iteration `at`: no losses after it
            continue
        losses[j, at - 1:] = float("nan")  # as the single-run trainer records it: nothing from iteration `at` on
        reached[j] = sum(1 for s in shape.snapshots if s < at)
        if 0 < reached[j] < len(shape.snapshots):  # the remaining snapshots repeat the last one taken before `at`
            for stack in (snapshots, grid_images, *stacked_extras.values()):
                stack[j, reached[j]:] = stack[j, reached[j] - 1]
    payloads = [{
        "generator": generator.member_state_dict(j),
        "critic": critic.member_state_dict(j),
        "snapshot_iters": list(c.snapshots),
        "snapshots": snapshots[j].clone(),
        "grid": members.grids[j].cpu().clone(),
        "grid_images": grid_images[j].clone(),
        "losses": losses[j].clone(),
        "device": device_name(device),
        "seconds": seconds,
        **{name: stack[j].clone() for name, stack in stacked_extras.items()},
        **({"diverged_at": -1 if divergence.at[j] is None else divergence.at[j], "reached": reached[j]}
           if record_divergence else {}),
    } for j, c in enumerate(configs)]
    return payloads, divergence.at


def train_batched(configs: Sequence[GANConfig] | Iterable[GANConfig], device: torch.device | str | None = None,
                  progress: bool = True, results_root=None, desc: str = "batched training", *,
                  snapshot_extra: Callable[[StackedFC, StackedFC], dict[str, torch.Tensor]] | None = None,
                  record_divergence: bool = False, cache_kind: str = CACHE_KIND,
                  cache_key: Callable[[GANConfig], dict] | None = None, compile_mode: str | None = None
                  ) -> list[GANRun]:
    """Train (or load from the results cache) K configurations of one architecture shape as one batched model.

    Returns one :class:`~lsgan_lib.train.config.GANRun` per configuration, in order, exactly as ``train_gan`` would (CPU
    networks in eval mode, rebuilt as ordinary ``fc_net`` modules). When every member is cached (under
    :func:`batch_keys`: its own key and this batch) they are loaded; when any is missing the whole batch is trained
    again, as it was first trained, and the missing members are stored — so the numbers do not depend on what was
    cached (batching changes float rounding, which these GANs amplify). A cached entry that is unreadable or fails
    :func:`~lsgan_lib.train.config.check_gan_payload` counts as missing (reported). ``run.extra["diverged_at"]`` is
    ``None``, or the iteration at which the member's loss became non-finite: such a member is frozen there, warned
    about, and cached with that iteration. ``run.seconds`` of a trained member is the batch's wall time divided by
    the number of members.

    For chapters that store more per run (the level-set chapter's critic fields): ``snapshot_extra`` and
    ``record_divergence`` as in :func:`_train_batched` (a recorded diverged member is cached, as a result), under
    ``cache_kind`` and ``cache_key(config)`` (default ``config.as_dict()``). Payload entries beyond a ``GANRun``'s
    fields land in ``run.extra``.

    ``compile_mode`` — ``None`` (eager), or a ``torch.compile`` mode of :data:`COMPILE_MODES` for the stacked nets'
    forward pass and the optimizer update (``"reduce-overhead"`` adds CUDA graphs on a GPU). Whether it pays is
    measured by ``bench/toy_training.py --compile``: on the 2-core CPU it does not (bench/README.md). Compiled code
    rounds differently, like batching, so the mode enters the cache key (:func:`batch_keys`). Objectives with a gradient
    penalty cannot be compiled (``ValueError``).
    """
    configs = list(configs)
    check_same_shape(configs)
    check_compile_mode(compile_mode, configs[0].objective)
    keys = batch_keys(configs, cache_key or GANConfig.as_dict, compile_mode)
    payloads = [cache.lookup(cache_kind, k, results_root, check=lambda p, c=c: check_gan_payload(c, p))
                for c, k in zip(configs, keys)]
    diverged: dict[int, int | None] = {}
    if any(p is None for p in payloads):
        diverged = _train_whole_batch(configs, keys, payloads, device, progress, results_root, desc, cache_kind,
                                      snapshot_extra, record_divergence, compile_mode)
    return [_run(config, payload, from_cache=not diverged) for config, payload in zip(configs, payloads)]


def _run(config: GANConfig, payload: dict, from_cache: bool) -> GANRun:
    """The run of a payload; entries beyond a ``GANRun``'s fields (a snapshot hook's) land in ``run.extra``, and
    ``run.extra["diverged_at"]`` is ``None`` or the iteration at which the run diverged."""
    run = run_from_payload(config, payload, from_cache)
    run.extra.update({name: payload[name] for name in payload.keys() - RUN_PAYLOAD_KEYS - {"unrecorded"}})
    at = int(payload.get("diverged_at", -1))  # recorded divergence: -1 for none
    run.extra["diverged_at"] = None if at < 0 else at
    if payload.get("unrecorded"):  # frozen at a divergence the caller did not ask to record (see below)
        for name in ("reached", "unrecorded"):
            run.extra.pop(name, None)
    return run


def train_gan(config: GANConfig, device: torch.device | str | None = None, progress: bool = True,
              results_root=None, _bar=None, *,
              snapshot_extra: Callable[[StackedFC, StackedFC], dict[str, torch.Tensor]] | None = None,
              record_divergence: bool = False, cache_kind: str = CACHE_KIND,
              cache_key: Callable[[GANConfig], dict] | None = None) -> GANRun:
    """Train ``config`` (or load it from the results cache under ``cache_key(config)``, default
    ``config.as_dict()``): the loop of :func:`_train_batched` at K = 1. The returned networks are on the CPU in eval
    mode. A non-finite loss raises :class:`~lsgan_lib.train.config.TrainingDiverged` (nothing is cached) unless
    ``record_divergence``; ``snapshot_extra``, ``record_divergence`` and ``cache_kind`` are those of
    :func:`train_batched`."""
    device = torch.device(device) if device is not None else default_device()
    own_bar = _bar is None and progress
    bar = ProgressBar(config.n_iter, config.describe(), leave=False) if own_bar else _bar

    def train() -> dict:
        payloads, _ = _train_batched([config], device, bar, snapshot_extra, record_divergence,
                                     raise_divergence=not record_divergence)
        return payloads[0]

    try:
        payload, hit = cache.cached(cache_kind, (cache_key or GANConfig.as_dict)(config), train, results_root,
                                    check=lambda p: check_gan_payload(config, p))
    finally:
        if own_bar:
            bar.close()
    if hit and _bar is not None:
        _bar.skip(config.n_iter)
    return _run(config, payload, hit)


def train_runs(configs: Sequence[GANConfig] | Iterable[GANConfig], device: torch.device | str | None = None,
               progress: bool = True, results_root=None, desc: str = "training") -> list[GANRun]:
    """Train (or load) several configurations in order, each by :func:`train_gan`, under one progress bar counting
    iterations."""
    configs = list(configs)
    bar = ProgressBar(sum(c.n_iter for c in configs), desc, enabled=progress)
    try:
        return [train_gan(c, device=device, results_root=results_root, _bar=bar) for c in configs]
    finally:
        bar.close()


def batch_keys(configs: Sequence[GANConfig], key: Callable[[GANConfig], dict], compile_mode: str | None = None
               ) -> list[dict]:
    """The results-cache keys of a batch's members: each member's own key plus the batch it was trained in (a hash
    of the members' keys in order) and the ``torch.compile`` mode, if any. Batching and compiling change float
    rounding, and these GANs amplify it, so a run trained in another batch, or alone by ``train_gan``, is another
    result and another entry."""
    members = [key(c) for c in configs]
    batch = {"size": len(members), "members": cache.config_hash({"members": members})}
    if compile_mode is not None:
        batch["compile_mode"] = compile_mode
    return [m | {"batch": batch} for m in members]


def _train_whole_batch(configs: list[GANConfig], keys: list[dict], payloads: list[dict | None], device, progress,
                       results_root, desc, cache_kind, snapshot_extra, record_divergence, compile_mode
                       ) -> dict[int, int | None]:
    """Train every member of the batch together, because one of them is missing from the cache; fill ``payloads``
    with the trained members; store the missing ones. A cached member whose numbers differ from its retrain (another
    torch version or machine wrote it) is reported and replaced, so that the returned numbers never depend on what
    was cached. A diverged member is stored too, with the iteration it diverged at, so the batch is not retrained on
    every run. Returns each member's divergence iteration (``None`` for none)."""
    missing = [j for j, p in enumerate(payloads) if p is None]
    if len(missing) < len(configs):
        warnings.warn(f"results cache: {len(missing)} of the {len(configs)} runs of this batch are missing; "
                      f"retraining all {len(configs)} together (the way they were trained), so that their numbers do "
                      "not depend on what was cached", UserWarning, stacklevel=3)
    bar = ProgressBar(configs[0].n_iter, f"{desc} ({len(configs)} runs)", enabled=progress)
    try:
        trained, at = train_here_or_on_cluster(_train_batched, configs, device, bar, snapshot_extra, record_divergence,
                                               compile_mode)
    finally:
        bar.close()
    for j, (payload, when) in enumerate(zip(trained, at)):
        if when is not None and not record_divergence:
            payload.update(diverged_at=when, reached=len(configs[j].snapshots), unrecorded=True)
        cached_payload = payloads[j]
        if cached_payload is None:
            cache.store(cache_kind, keys[j], payload, results_root)
        elif cache.payload_digest(cached_payload) != cache.payload_digest(payload):
            warnings.warn(f"results cache: {cache.entry_path(cache_kind, keys[j], results_root)} differs from its "
                          "retrain in the same batch (written by another torch version, thread count or machine); "
                          "replacing it", UserWarning, stacklevel=3)
            cache.store(cache_kind, keys[j], payload, results_root)
        payloads[j] = payload
    return dict(enumerate(at))


def shape_key(config: GANConfig) -> tuple:
    """What runs must share to be trained as one batched model: the data dimension and :data:`SHARED_FIELDS`."""
    return (data_manifold(config.data).dim,) + tuple(getattr(config, name) for name in SHARED_FIELDS)


def split_evenly(members: list[int], max_members: int | None) -> list[list[int]]:
    """``members`` cut, in order, into the fewest parts of at most ``max_members`` each (``None``: one part), the
    parts' sizes differing by at most one: 35 members at most 14 → 12, 12, 11."""
    if max_members is None:
        return [members]
    if max_members < 1:
        raise ValueError(f"max_members={max_members}: a batch needs at least one member; pass None for no limit")
    parts = -(-len(members) // max_members)
    size, extra = divmod(len(members), parts)
    bounds = [0]
    for i in range(parts):
        bounds.append(bounds[-1] + size + (i < extra))
    return [members[a:b] for a, b in zip(bounds, bounds[1:])]


def train_sweep(configs: Sequence[GANConfig] | Iterable[GANConfig], device: torch.device | str | None = None,
                progress: bool = True, results_root=None, desc: str = "sweep", max_members: int | None = None,
                **options) -> list[GANRun]:
    """Train (or load) a sweep of toy runs — seeds × configurations — batching the runs of one shape together.

    The configurations are grouped by :func:`shape_key`, and a group of more than ``max_members`` (``None``: no
    limit) is cut in order into near-equal parts (:func:`split_evenly`); each is one :func:`train_batched` call, so
    smaller batches spread over more Dask workers (on a GPU one large batch is faster). Returns one
    :class:`~lsgan_lib.train.config.GANRun` per configuration, in the order given, with ``run.extra["diverged_at"]`` as
    :func:`train_batched` sets it (a diverged run is frozen, warned about and cached with that iteration; the sweep
    goes on). Each group is one batch of the cache keys (:func:`batch_keys`): grouping the same sweep differently
    trains, and caches, other runs. The
    chapters train every seed and configuration sweep through this function. ``options`` go to :func:`train_batched`
    (``snapshot_extra``, ``record_divergence``, ``cache_kind``, ``cache_key``, ``compile_mode``). Under a Dask client
    (``$LSGAN_SCHEDULER``, :mod:`lsgan_lib.book.sweep`) the groups train at once, each as a task on a worker.
    """
    configs = list(configs)
    groups: dict[tuple, list[int]] = {}
    for j, config in enumerate(configs):
        groups.setdefault(shape_key(config), []).append(j)
    batches = [part for members in groups.values() for part in split_evenly(members, max_members)]
    runs: list[GANRun | None] = [None] * len(configs)

    def train_group(number: int, members: list[int]) -> list[GANRun]:
        label = f"{desc} {number}/{len(batches)}" if len(batches) > 1 else desc
        return train_batched([configs[j] for j in members], device, progress, results_root, label, **options)

    calls = list(enumerate(batches, 1))
    trained = map_here_or_on_cluster(lambda call: train_group(*call), calls)  # under Dask: every batch a task at once
    for (_, members), group_runs in zip(calls, trained):
        for j, run in zip(members, group_runs):
            runs[j] = run
    return runs
