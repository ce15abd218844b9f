"""A PyTorch twin of the choice policy, its losses and update steps, for benchmarks only.

Same BERT (post-LayerNorm encoder, exact-erf GELU, padded keys masked so that a fully padded
row stays finite, as in `jaxrec.models.bert`), the same bi-attention head with padded action tokens masked, the same critic,
and the same losses as `jaxrec.train.losses` / `jaxrec.train.ppo_update`, so that with the
weights copied by `from_jax` both frameworks compute the same numbers (held to it by
`tests/test_torch_policy.py`). Updates are AdamW with global-norm clipping, as
`jaxrec.train.imitation.make_optimizer` builds them with optax.

Dropout is left out: the JAX policy runs with dropout switched off unless asked, and the
benchmarks time it that way. bfloat16 compute is `torch.autocast` over float32 parameters,
the PyTorch counterpart of `BertConfig(dtype="bfloat16")`.

torch is an optional extra (`pip install -e .[torch]`): it is imported here only, and
`require_torch()` explains what is missing.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any, NamedTuple

import numpy as np

from jaxrec.models.config import BertConfig
from jaxrec.train.ppo_update import PPOConfig

try:
    import torch
    from torch import nn
    from torch.nn import functional as F
except ImportError as error:  # pragma: no cover - exercised only without torch
    torch = None
    _IMPORT_ERROR: ImportError | None = error
else:
    _IMPORT_ERROR = None

# The same stand-in for -inf as `jaxrec.models.policy._MASKED`.
_MASKED = -1e30


def require_torch() -> Any:
    """The torch module, or an ImportError saying how to install it."""
    if torch is None:
        raise ImportError(
            "the PyTorch comparison needs torch, an optional extra: "
            "`pip install -e .[torch]` (or `pip install torch`)"
        ) from _IMPORT_ERROR
    return torch


require_torch()

_ACTIVATIONS = {
    "gelu": lambda x: F.gelu(x, approximate="none"),
    "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "relu": F.relu,
}


class TorchOutput(NamedTuple):
    """What `TorchChoicePolicy` returns, as `jaxrec.models.policy.PolicyOutput`."""

    logits: torch.Tensor  # (batch, actions) float32
    log_probs: torch.Tensor  # (batch, actions) float32, -inf on invalid actions
    values: torch.Tensor  # (batch,) float32


class BertEmbeddings(nn.Module):
    """Word + position + token-type embeddings, then LayerNorm."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.word = nn.Embedding(config.vocab_size, config.hidden_size)
        self.position = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(input_ids.shape[-1], device=input_ids.device)
        x = self.word(input_ids) + self.position(positions) + self.token_type(token_type_ids)
        return self.norm(x)


class BertAttention(nn.Module):
    """Multi-head self-attention, output projection, residual and LayerNorm."""

    def __init__(self, config: BertConfig):
        super().__init__()
        hidden = config.hidden_size
        self.num_heads = config.num_attention_heads
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)
        self.output = nn.Linear(hidden, hidden)
        self.norm = nn.LayerNorm(hidden, eps=config.layer_norm_eps)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """x: (batch, seq, hidden); bias: (batch, 1, 1, seq) additive key mask."""
        batch, seq, hidden = x.shape
        heads = self.num_heads

        def split(y: torch.Tensor) -> torch.Tensor:
            return y.view(batch, seq, heads, hidden // heads).transpose(1, 2)

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        context = F.scaled_dot_product_attention(q, k, v, attn_mask=bias.to(q.dtype))
        context = context.transpose(1, 2).reshape(batch, seq, hidden)
        return self.norm(x + self.output(context))


class BertLayer(nn.Module):
    """One transformer block: self-attention, then the feed-forward network."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.attention = BertAttention(config)
        self.intermediate = nn.Linear(config.hidden_size, config.intermediate_size)
        self.output = nn.Linear(config.intermediate_size, config.hidden_size)
        self.norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.activation = _ACTIVATIONS[config.hidden_act]

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        x = self.attention(x, bias)
        return self.norm(x + self.output(self.activation(self.intermediate(x))))


class TorchBert(nn.Module):
    """BERT encoder returning the last hidden states, parameter names mirroring `Bert`'s."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.embeddings = BertEmbeddings(config)
        self.layers = nn.ModuleList(BertLayer(config) for _ in range(config.num_hidden_layers))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """(batch, seq) ids and mask (nonzero on real tokens) -> (batch, seq, hidden)."""
        x = self.embeddings(input_ids, torch.zeros_like(input_ids))
        # -1e30 rather than finfo.min: added to a score it neither overflows to -inf (which
        # would turn a fully padded row into NaN, in bfloat16 too) nor leaves any weight on
        # a padded key; a fully padded row comes out uniform, as JAX's where() makes it.
        bias = torch.zeros(attention_mask.shape, dtype=torch.float32, device=x.device)
        bias = bias.masked_fill(~attention_mask.bool(), _MASKED)[:, None, None, :]
        for layer in self.layers:
            x = layer(x, bias)
        return x


class BiAttention(nn.Module):
    """`jaxrec.models.policy.BiAttention`, including its masking of padded action tokens."""

    def __init__(self, hidden: int):
        super().__init__()
        self.context_weight = nn.Linear(hidden, 1, bias=False)
        self.memory_weight = nn.Linear(hidden, 1, bias=False)
        self.scale = nn.Parameter(torch.empty(hidden).uniform_(hidden**-0.5, 1.0))

    def forward(
        self,
        context: torch.Tensor,
        context_mask: torch.Tensor,
        memory: torch.Tensor,
        memory_mask: torch.Tensor,
    ) -> torch.Tensor:
        """(b, a, t, h) action states, (b, a, t) bool, (b, s, h), (b, s) bool -> (b, a, t, 4h)."""
        batch, actions, tokens, hidden = context.shape
        flat = (context * self.scale).reshape(batch, actions * tokens, hidden)
        cross = torch.bmm(flat, memory.transpose(1, 2)).float()
        cross = cross.view(batch, actions, tokens, -1)  # (b, a, t, s)
        att = (
            cross
            + self.context_weight(context).float()  # (b, a, t, 1)
            + self.memory_weight(memory)[:, None, None, :, 0].float()  # (b, 1, 1, s)
        )
        att = att.masked_fill(~memory_mask[:, None, None, :], _MASKED)
        probs = torch.softmax(att, dim=-1).to(memory.dtype)
        o1 = torch.bmm(probs.view(batch, actions * tokens, -1), memory)
        o1 = o1.view(batch, actions, tokens, hidden)
        pooled = att.amax(dim=-1).masked_fill(~context_mask, _MASKED)
        weights = torch.softmax(pooled, dim=-1).to(context.dtype)  # (b, a, t)
        o2 = torch.einsum("bat,batd->bad", weights, context)[:, :, None, :]
        return torch.cat([context, o1, context * o1, o2 * o1], dim=-1)


class TorchChoicePolicy(nn.Module):
    """`jaxrec.models.policy.ChoicePolicy` in PyTorch: BERT, bi-attention actor, critic."""

    def __init__(self, config: BertConfig):
        super().__init__()
        hidden = config.hidden_size
        self.encoder = TorchBert(config)
        self.attention = BiAttention(hidden)
        self.hidden = nn.Linear(4 * hidden, hidden)
        self.score = nn.Linear(hidden, 1)
        self.critic_hidden = nn.Linear(hidden, 128)
        self.critic_out = nn.Linear(128, 1)

    def forward(
        self,
        state_ids: torch.Tensor,
        state_mask: torch.Tensor,
        action_ids: torch.Tensor,
        action_token_mask: torch.Tensor,
        action_mask: torch.Tensor,
    ) -> TorchOutput:
        """Same inputs and outputs as `ChoicePolicy.__call__`, as tensors."""
        batch, actions, tokens = action_ids.shape
        memory_mask = state_mask.bool()
        context_mask = action_token_mask.bool()
        memory = self.encoder(state_ids, memory_mask)
        context = self.encoder(
            action_ids.reshape(batch * actions, tokens),
            context_mask.reshape(batch * actions, tokens),
        ).view(batch, actions, tokens, -1)
        features = F.relu(
            self.hidden(self.attention(context, context_mask, memory, memory_mask))
        ).float()
        counts = context_mask.sum(dim=-1, keepdim=True).clamp_min(1)
        pooled = features.masked_fill(~context_mask[..., None], 0.0).sum(dim=-2) / counts
        logits = self.score(pooled)[..., 0].float()
        cls = memory[:, 0]
        values = self.critic_out(F.leaky_relu(self.critic_hidden(cls)))[..., 0].float()
        return TorchOutput(logits, log_probs(logits, action_mask), values)


def log_probs(logits: torch.Tensor, action_mask: torch.Tensor) -> torch.Tensor:
    """Log-softmax over the valid actions, -inf elsewhere (as `policy.log_probs`)."""
    valid = action_mask.bool()
    normalised = torch.log_softmax(logits.masked_fill(~valid, _MASKED), dim=-1)
    return normalised.masked_fill(~valid, -math.inf)


def entropy(log_probs: torch.Tensor) -> torch.Tensor:
    """Entropy over valid actions, safe (no NaN gradient) where log-probs are -inf."""
    finite = torch.isfinite(log_probs)
    safe = torch.where(finite, log_probs, torch.zeros_like(log_probs))
    return -torch.where(finite, safe.exp() * safe, torch.zeros_like(safe)).sum(dim=-1)


# ---------------------------------------------------------------------------------------
# Weights: copied from the JAX policy, and read back for comparisons.


def param_names(jax_path: tuple[str | int, ...], torch_names: set[str]) -> tuple[str, bool]:
    """The torch parameter a JAX `nnx.Param` path maps to, and whether to transpose it.

    Module names mirror each other; Flax's `kernel` (in, out) is torch's `weight` (out, in),
    `embedding` and LayerNorm's `scale` are `weight`; the bi-attention `scale` keeps its name.
    """
    *parents, leaf = (str(part) for part in jax_path)
    prefix = ".".join(parents)
    if leaf == "kernel":
        return f"{prefix}.weight", True
    if leaf == "scale" and f"{prefix}.scale" in torch_names:
        return f"{prefix}.scale", False
    if leaf in ("embedding", "scale"):
        return f"{prefix}.weight", False
    return f"{prefix}.{leaf}", False


def _jax_params(policy: Any) -> dict[tuple, np.ndarray]:
    from flax import nnx

    return {
        path: np.asarray(var[...]) for path, var in nnx.to_flat_state(nnx.state(policy, nnx.Param))
    }


def from_jax(policy: Any, *, device: str = "cpu") -> TorchChoicePolicy:
    """A `TorchChoicePolicy` holding a copy of every parameter of a JAX `ChoicePolicy`.

    Raises:
        ValueError when a parameter is missing on either side or mis-shaped.
    """
    model = TorchChoicePolicy(policy.encoder.config)
    named = dict(model.named_parameters())
    copied: set[str] = set()
    with torch.no_grad():
        for path, array in _jax_params(policy).items():
            name, transpose = param_names(path, set(named))
            if name not in named:
                raise ValueError(f"JAX parameter {path} has no torch counterpart {name!r}")
            value = torch.from_numpy(
                np.array(array.T if transpose else array, np.float32, order="C")
            )
            if value.shape != named[name].shape:
                raise ValueError(
                    f"{name}: torch shape {tuple(named[name].shape)}, JAX {tuple(value.shape)}"
                )
            named[name].copy_(value.float())
            copied.add(name)
    if missing := sorted(set(named) - copied):
        raise ValueError(f"torch parameters with no JAX counterpart: {missing}")
    return model.to(device)


def jax_layout(model: TorchChoicePolicy, policy: Any) -> dict[tuple, np.ndarray]:
    """The torch parameters as numpy arrays keyed (and laid out) like the JAX policy's."""
    named = dict(model.named_parameters())
    out = {}
    for path in _jax_params(policy):
        name, transpose = param_names(path, set(named))
        array = named[name].detach().float().cpu().numpy()
        out[path] = array.T if transpose else array
    return out


# ---------------------------------------------------------------------------------------
# Losses: `jaxrec.train.losses`, term by term.


def gold_log_probs(log_probs: torch.Tensor, gold: torch.Tensor) -> torch.Tensor:
    """log pi(gold | state): (batch, actions), (batch,) -> (batch,)."""
    return torch.gather(log_probs, 1, gold.long()[:, None])[:, 0]


def imitation_loss(log_probs: torch.Tensor, gold: torch.Tensor) -> torch.Tensor:
    return -gold_log_probs(log_probs, gold).mean()


def _mean(x: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    if weights is None:
        return x.mean()
    weights = weights.to(x.dtype)
    total = torch.where(weights > 0, x * weights, torch.zeros_like(x)).sum()
    return total / weights.sum().clamp_min(torch.finfo(x.dtype).tiny)


def dpo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    ref_chosen: torch.Tensor,
    ref_rejected: torch.Tensor,
    beta: float,
    weights: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """`jaxrec.train.losses.dpo_loss`."""
    chosen_reward = beta * (policy_chosen - ref_chosen)
    rejected_reward = beta * (policy_rejected - ref_rejected)
    margin = chosen_reward - rejected_reward
    loss = _mean(-F.logsigmoid(margin), weights)
    metrics = {
        "loss": loss,
        "margin": _mean(margin, weights),
        "accuracy": _mean((margin > 0).to(margin.dtype), weights),
        "chosen_reward": _mean(chosen_reward, weights),
        "rejected_reward": _mean(rejected_reward, weights),
    }
    return loss, metrics


def ppo_policy_loss(
    log_probs_new: torch.Tensor,
    log_probs_old: torch.Tensor,
    advantages: torch.Tensor,
    clip_eps: float,
    mask: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """`jaxrec.train.losses.ppo_policy_loss`: (loss, clip fraction)."""
    ratio = torch.exp(log_probs_new - log_probs_old)
    clipped = ratio.clamp(1.0 - clip_eps, 1.0 + clip_eps)
    surrogate = torch.minimum(ratio * advantages, clipped * advantages)
    clip_fraction = _mean(((ratio - 1.0).abs() > clip_eps).to(ratio.dtype), mask)
    return -_mean(surrogate, mask), clip_fraction


def value_loss(
    values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    return 0.5 * _mean((values - returns).square(), mask)


def entropy_bonus(log_probs: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    return _mean(entropy(log_probs), mask)


def kl_to_reference(
    log_probs_policy: torch.Tensor, log_probs_ref: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    finite = torch.isfinite(log_probs_policy) & torch.isfinite(log_probs_ref)
    zero = torch.zeros_like(log_probs_policy)
    policy = torch.where(finite, log_probs_policy, zero)
    ref = torch.where(finite, log_probs_ref, zero)
    per_state = torch.where(finite, policy.exp() * (policy - ref), zero).sum(dim=-1)
    return _mean(per_state, mask)


def ppo_loss(
    out: TorchOutput, batch: dict[str, torch.Tensor], config: PPOConfig
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """`jaxrec.train.ppo_update.ppo_loss` on the policy's output for `batch` (PPOBatch fields)."""
    policy_loss, clip_fraction = ppo_policy_loss(
        gold_log_probs(out.log_probs, batch["actions"]),
        batch["old_log_probs"],
        batch["advantages"],
        config.clip_eps,
    )
    critic_loss = value_loss(out.values, batch["returns"])
    bonus = entropy_bonus(out.log_probs)
    loss = policy_loss + config.vf_coef * critic_loss - config.ent_coef * bonus
    metrics = {
        "policy_loss": policy_loss,
        "value_loss": critic_loss,
        "entropy": bonus,
        "clip_fraction": clip_fraction,
    }
    if config.il_coef:
        metrics["imitation_loss"] = imitation_loss(out.log_probs, batch["gold"])
        loss = loss + config.il_coef * metrics["imitation_loss"]
    if config.kl_coef:
        metrics["kl"] = kl_to_reference(out.log_probs, batch["ref_log_probs"])
        loss = loss + config.kl_coef * metrics["kl"]
    metrics["loss"] = loss
    return loss, metrics


# ---------------------------------------------------------------------------------------
# Update steps: AdamW after global-norm clipping, as optax.chain(clip_by_global_norm, adamw).


class TorchTrainer:
    """A policy with its AdamW optimiser and the three update steps.

    Matches `make_optimizer(policy, lr, clip=clip)`: optax's adamw defaults (b1 0.9,
    b2 0.999, eps 1e-8, weight decay 1e-4 on every parameter) after optax's global-norm
    clipping (scale by clip / norm only when norm > clip; torch's `clip_grad_norm_` adds
    1e-6 to the norm, so the clipping is written out here).

    Args:
        model: the policy, on its device.
        learning_rate, clip: as `make_optimizer`'s.
        dtype: "bfloat16" runs forward and loss under `torch.autocast`.
    """

    def __init__(
        self,
        model: TorchChoicePolicy,
        learning_rate: float,
        *,
        clip: float = 1.0,
        dtype: str = "float32",
        weight_decay: float = 1e-4,
    ):
        self.model = model
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.clip = clip
        self.device_type = next(model.parameters()).device.type
        self.dtype = dtype
        self.optimizer = torch.optim.AdamW(
            self.params,
            lr=learning_rate,
            betas=(0.9, 0.999),
            eps=1e-8,
            weight_decay=weight_decay,
            # The fused kernel is PyTorch's fastest AdamW (on CPU some 40x the foreach one
            # on MiniLM's 23M parameters): the fair opponent for XLA's fused update.
            fused=True,
        )

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.dtype == "bfloat16":
            return torch.autocast(self.device_type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def forward(self, inputs: dict[str, torch.Tensor]) -> TorchOutput:
        with self._autocast():
            return self.model(*(inputs[name] for name in POLICY_INPUTS))

    def _apply(self, loss: torch.Tensor) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        for param in self.params:
            # A parameter the loss does not reach (the critic, under the imitation loss) has
            # a zero gradient in JAX, and optax still decays it and its moments: do the same.
            if param.grad is None:
                param.grad = torch.zeros_like(param)
        grads = [p.grad for p in self.params]
        norm = torch.linalg.vector_norm(
            torch.stack(torch._foreach_norm(grads)), dtype=torch.float32
        )
        scale = torch.where(norm < self.clip, torch.ones_like(norm), self.clip / norm)
        torch._foreach_mul_(grads, scale)
        self.optimizer.step()

    def imitation_step(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """One step on the imitation loss; returns the loss before the step."""
        loss = imitation_loss(self.forward(batch).log_probs, batch["gold"])
        self._apply(loss)
        return loss.detach()

    def dpo_step(
        self,
        batch: dict[str, torch.Tensor],
        rejected: torch.Tensor,
        ref_chosen: torch.Tensor,
        ref_rejected: torch.Tensor,
        beta: float,
        weights: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """One step on the DPO loss (as `jaxrec.train.dpo.dpo_step`); metrics before it."""
        lp = self.forward(batch).log_probs
        loss, metrics = dpo_loss(
            gold_log_probs(lp, batch["gold"]),
            gold_log_probs(lp, rejected),
            ref_chosen,
            ref_rejected,
            beta,
            weights,
        )
        self._apply(loss)
        return {k: v.detach() for k, v in metrics.items()}

    def ppo_step(
        self, batch: dict[str, torch.Tensor], config: PPOConfig
    ) -> dict[str, torch.Tensor]:
        """One step on the PPO loss (as `jaxrec.train.ppo_update.ppo_step`); metrics before it."""
        loss, metrics = ppo_loss(self.forward(batch), batch, config)
        self._apply(loss)
        return {k: v.detach() for k, v in metrics.items()}


POLICY_INPUTS = ("state_ids", "state_mask", "action_ids", "action_token_mask", "action_mask")


def to_torch(arrays: Any, device: str = "cpu") -> dict[str, torch.Tensor]:
    """A NamedTuple (ChoiceBatch, PPOBatch) or dict of arrays -> dict of tensors on `device`.

    Integer arrays become int64 (what embeddings and gather want); None fields are dropped.
    """
    items = arrays._asdict().items() if hasattr(arrays, "_asdict") else arrays.items()
    out = {}
    for name, value in items:
        if value is None:
            continue
        array = np.asarray(value)
        tensor = torch.from_numpy(np.ascontiguousarray(array))
        if array.dtype.kind in "iu":
            tensor = tensor.long()
        elif array.dtype.kind == "f":
            tensor = tensor.float()
        out[name] = tensor.to(device)
    return out
