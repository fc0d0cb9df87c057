"""Chapter 6's world: many classes named by shared words, long-tailed training data.

Wen et al. (2024) train CLIP and a supervised classifier on the same long-tailed data and ask why
CLIP's predictions follow class frequency so much less. Here each of ``n_adjectives x n_nouns``
classes is named by two words ("adjective noun"), as many ImageNet class names share words; the
class's latent mean is the sum of its words' latent vectors plus a class-specific part, so classes
that share a word look alike. With ``shared_words`` off, each class is named by a word of its own
(the images are drawn exactly as before): a name then tells a model nothing about other classes. Images are a random isometric embedding of the latent (plus
nuisance dimensions and noise); captions are bags of words: the class's two words, with
``descriptive`` captions words that describe the image's own variation (nuisance details that say
nothing about the class), and with ``n_attributes`` each class has one of that many visual
attributes, shared by several classes, whose word a caption names with probability
``attribute_described`` (a description that carries information about the class).

Training counts per class follow a profile (:func:`clipbook.data.frequencies.class_counts`: a
power law, or a real ``classname<TAB>count`` file mapped onto the classes by rank), with head
and tail shuffled over the classes per seed. Test sets are balanced.

``open_adjectives`` adds open-world concepts (Wen et al.'s Sec. 3.6): classes named by further
adjectives with the same nouns, present in training and never tested. They share the long-tailed
profile with the tested classes (``n_trained_classes`` in all), their geometry is drawn from a
separate stream, so the tested classes are the same with or without them, and classes
``0 .. n_classes - 1`` are always the tested ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from clipbook.data.frequencies import class_counts
from clipbook.data.latent import LatentBatch, random_embedding
from clipbook.data.shapes import rng_stream
from clipbook.data.splits import Split, split_generator


@dataclass(frozen=True)
class ImbalanceWorld:
    n_adjectives: int = 10
    n_nouns: int = 10
    latent_dim: int = 24
    specific: float = 0.5  # weight of the class-specific part of a class mean (0: classes are their words)
    within_std: float = 0.6  # within-class standard deviation of the latent
    n_noise: int = 8  # nuisance latent dimensions
    image_dim: int = 64
    noise_std: float = 0.05
    profile: str = "power_law"  # or a frequency file (path, or a shipped name)
    alpha: float = 1.0
    n_details: int = 8  # words a descriptive caption may use for the image's own variation
    descriptive: float = 0.0  # probability that a caption describes each detail of its image
    trim_tail: int = 0  # the rarest classes cut to `tail_cap` training examples (Wen et al.'s trim-tail)
    tail_cap: int = 1
    open_adjectives: int = 0  # adjectives of the open-world classes: trained on, never tested
    n_attributes: int = 0  # visual attributes, one per class and shared by several: words a description can name
    attribute_weight: float = 0.5  # weight of a class's attribute in its latent mean
    attribute_described: float = 0.0  # probability that a caption names its class's attribute
    shared_words: bool = True  # class names share words ("adjective noun"); False: one word of its own per class

    def __post_init__(self):
        if self.n_adjectives < 1 or self.n_nouns < 1 or self.n_classes < 2:
            raise ValueError("the world needs at least two classes")
        if self.open_adjectives < 0:
            raise ValueError(f"open_adjectives must be >= 0, got {self.open_adjectives}")
        if not 0 <= self.trim_tail < self.n_trained_classes or self.tail_cap < 0:
            raise ValueError("trim_tail must leave some classes untrimmed and tail_cap must be >= 0")
        if not 0 <= self.descriptive <= 1 or not 0 <= self.attribute_described <= 1:
            raise ValueError(f"descriptive and attribute_described must be probabilities, got {self.descriptive} "
                             f"and {self.attribute_described}")
        if self.n_attributes < 0 or (self.attribute_described and not self.n_attributes):
            raise ValueError("captions can name attributes only in a world with n_attributes >= 1")
        if self.image_dim < self.latent_dim + self.n_noise:
            raise ValueError("image_dim must hold latent_dim + n_noise")

    @property
    def n_classes(self) -> int:
        """The tested classes."""
        return self.n_adjectives * self.n_nouns

    @property
    def n_trained_classes(self) -> int:
        """The tested classes and the open-world ones after them."""
        return (self.n_adjectives + self.open_adjectives) * self.n_nouns

    @property
    def n_name_words(self) -> int:
        """Words that name classes: adjectives (tested, then open-world) and nouns, or one per class."""
        return self.n_adjectives + self.open_adjectives + self.n_nouns if self.shared_words else self.n_trained_classes

    @property
    def text_dim(self) -> int:
        """Bag-of-words size: the name words, attribute words, detail words."""
        return self.n_name_words + self.n_attributes + self.n_details

    def class_words(self) -> torch.Tensor:
        """``[K, 2]`` word indices (adjective, noun) of every trained class in the text vocabulary, or
        ``[K, 1]`` (the class's own word) without ``shared_words``."""
        k = torch.arange(self.n_trained_classes)
        if not self.shared_words:
            return k.unsqueeze(1)
        return torch.stack([k // self.n_nouns, self.n_adjectives + self.open_adjectives + k % self.n_nouns], dim=1)

    def class_names(self) -> torch.Tensor:
        """``[K, text_dim]`` bag of words of each tested class's name: the zero-shot prompts."""
        names = torch.zeros(self.n_classes, self.text_dim)
        names.scatter_(1, self.class_words()[:self.n_classes], 1.0)
        return names

    def counts(self, n: int, seed: int) -> np.ndarray:
        """Training examples per trained class: the profile's counts (at least one each), head and
        tail assigned to the classes by a seeded shuffle."""
        counts = class_counts(self.profile, self.n_trained_classes, n, alpha=self.alpha, min_count=1)  # head first
        if self.trim_tail:
            counts[-self.trim_tail:] = np.minimum(counts[-self.trim_tail:], self.tail_cap)
        return counts[np.random.default_rng(seed).permutation(self.n_trained_classes)]

    def trimmed(self, seed: int) -> np.ndarray:
        """The classes that trim-tail cut (indices), for this seed's shuffle."""
        order = np.random.default_rng(seed).permutation(self.n_trained_classes)
        return np.flatnonzero(order >= self.n_trained_classes - self.trim_tail)


def _geometry(world: ImbalanceWorld, seed: int) -> dict[str, torch.Tensor]:
    """A seed's fixed structure: word and class vectors, detail directions, the image embedding.
    The open-world classes' adjectives and class parts come from a second stream, after the
    tested classes' scale is set, so they leave the tested classes' geometry as it was."""
    g = torch.Generator().manual_seed(seed)
    d = world.latent_dim
    words = torch.randn(world.n_adjectives + world.n_nouns, d, generator=g) / math.sqrt(d)
    specific = torch.randn(world.n_classes, d, generator=g) / math.sqrt(d)
    details = torch.randn(world.n_details, d, generator=g) / math.sqrt(d)
    embedding = random_embedding(world.image_dim, d + world.n_noise, g)
    nouns = words[world.n_adjectives:]
    adjectives = words[:world.n_adjectives]
    if world.open_adjectives:
        g_open = torch.Generator().manual_seed(int(rng_stream(seed, "geometry", "open-world").integers(2**62)))
        adjectives = torch.cat([adjectives, torch.randn(world.open_adjectives, d, generator=g_open) / math.sqrt(d)])
        extra = torch.randn(world.n_trained_classes - world.n_classes, d, generator=g_open) / math.sqrt(d)
        specific = torch.cat([specific, extra])
    k = torch.arange(world.n_trained_classes)
    means = (adjectives[k // world.n_nouns] + nouns[k % world.n_nouns]) / math.sqrt(2) + world.specific * specific
    attribute = torch.zeros(world.n_trained_classes, dtype=torch.long)
    if world.n_attributes:  # a stream of its own: a world without attributes is drawn as it always was
        g_attr = torch.Generator().manual_seed(int(rng_stream(seed, "geometry", "attributes").integers(2**62)))
        vectors = torch.randn(world.n_attributes, d, generator=g_attr) / math.sqrt(d)
        attribute = torch.randint(world.n_attributes, (world.n_trained_classes,), generator=g_attr)
        means = means + world.attribute_weight * vectors[attribute]
    return {"means": 2.0 * means / means[:world.n_classes].norm(dim=1).mean(), "details": details,
            "embedding": embedding, "attribute": attribute}


def sample(world: ImbalanceWorld, seed: int, split: Split, n: int) -> LatentBatch:
    """One seed's images, captions and labels (leading model axis of size 1): ``n`` long-tailed
    training pairs over the trained classes for ``train``, ``n`` per tested class for a balanced
    ``id`` test set, and ``n`` pairs balanced over the trained classes for ``pretrain`` (a corpus
    that holds every class, trimmed or rare in ``train`` or not, disjoint from it)."""
    geo = _geometry(world, seed)
    g = split_generator(seed, split)
    per_class = {"train": lambda: world.counts(n, seed),
                 "pretrain": lambda: np.full(world.n_trained_classes, max(1, n // world.n_trained_classes))
                 }.get(split, lambda: np.full(world.n_classes, n))()
    y = torch.repeat_interleave(torch.arange(len(per_class)), torch.as_tensor(per_class))
    y = y[torch.randperm(len(y), generator=g)]
    detail_on = torch.rand(len(y), world.n_details, generator=g) < 0.5  # each detail present in half the images
    z = geo["means"][y] + world.within_std * (detail_on.float() @ geo["details"]) * 2 / math.sqrt(world.n_details)
    z = z + 0.5 * world.within_std * torch.randn(len(y), world.latent_dim, generator=g)
    latent = torch.cat([z, torch.randn(len(y), world.n_noise, generator=g)], dim=1)
    x = latent @ geo["embedding"].T + world.noise_std * torch.randn(len(y), world.image_dim, generator=g)
    t = torch.zeros(len(y), world.text_dim)
    t.scatter_(1, world.class_words()[y], 1.0)
    described = detail_on & (torch.rand(len(y), world.n_details, generator=g) < world.descriptive)
    t[:, world.text_dim - world.n_details:] = described.float()
    if world.attribute_described:
        named = torch.rand(len(y), generator=g) < world.attribute_described
        word = world.n_name_words + geo["attribute"][y]
        t[torch.arange(len(y))[named], word[named]] = 1.0
    return LatentBatch(x.unsqueeze(0), t.unsqueeze(0), y.unsqueeze(0))
