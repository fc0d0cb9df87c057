"""Captions for the shapes world, and a word-level tokenizer for its small vocabulary.

How much a caption says is the knob several chapters turn: the class name alone (supervised
learning in disguise), a prompt template around a noun phrase (CLIP's "a photo of a ..."),
or web-like text, whose title, tags and description are each switchable and mix attribute
words with filler. ``attributes`` and ``p_mention`` choose which details a caption annotates
and how often (Xue et al.'s rich captions; Wen et al.'s descriptiveness).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Literal, Sequence

import numpy as np
import pandas as pd
import torch

from clipbook.data.shapes import ATTRIBUTES, rng_stream

TEMPLATES = (
    "a photo of {}.", "a good photo of {}.", "a close-up photo of {}.", "a bright photo of {}.",
    "a blurry photo of {}.", "a drawing of {}.", "a sketch of {}.", "a cartoon of {}.", "a rendering of {}.",
    "art of {}.", "a picture of {}.", "an image of {}.", "a small picture of {}.",
)
"""Prompt templates in the manner of CLIP's ImageNet ensemble; ``{}`` takes a noun phrase with its article."""

WORDS: dict[str, tuple[str, ...]] = {
    "shape": ATTRIBUTES["shape"],
    "colour": ATTRIBUTES["colour"],
    "size": ("small", "medium", "large"),
    "texture": ("plain", "striped", "dotted", "checkered"),
    "background": ("light", "gray", "dark", "gradient", "noisy"),
    "position": ("topleft", "top", "topright", "left", "center", "right", "bottomleft", "bottom", "bottomright"),
    "style": ("photo", "sketch", "edges", "cartoon", "blurry"),
}
"""One word per attribute value (tags, titles, and the class name when the class is that attribute)."""

PHRASES: dict[str, tuple[str, ...]] = {
    "background": tuple(f"on a {w} background" for w in WORDS["background"]),
    "position": ("in the top left", "at the top", "in the top right", "on the left", "in the center", "on the right",
                 "in the bottom left", "at the bottom", "in the bottom right"),
    "style": ("a photo", "a sketch", "an edge map", "a cartoon", "a blurry photo"),
}
"""How a description words the attributes that are not adjectives of the object."""
_ADJECTIVES = ("size", "colour", "texture")  # in this order before the noun: "small red striped circle"

NOISE_WORDS = (
    "my", "new", "best", "cool", "nice", "old", "free", "hd", "pic", "img", "view", "day", "home", "art", "design",
    "vintage", "sale", "shop", "diy", "summer", "winter", "family", "holiday", "travel", "fun", "love", "style",
    "gift", "idea", "daily", "classic", "modern", "simple", "happy", "weekend", "collection", "original", "custom",
)
"""Filler of web text; none of them names an attribute value."""

CaptionKind = Literal["class_name", "template", "web"]


@dataclass(frozen=True)
class CaptionSpec:
    """How to caption a shapes data set.

    ``kind``: ``class_name`` (just the class word), ``template`` (one of ``templates`` around a
    noun phrase), or ``web`` (``title`` / ``tags`` / ``description`` fields, joined). Each
    attribute in ``attributes`` is described with probability ``p_mention``, independently per
    caption; the class is always named in ``template`` captions and with probability ``p_class``
    in ``web`` ones. Web titles and tags carry ``n_noise_words`` filler words each. The random
    choices depend on ``seed`` and the row number only: caption two data sets with two seeds
    (e.g. each data set's own).
    """

    kind: CaptionKind = "template"
    attributes: tuple[str, ...] = ()
    p_mention: float = 1.0
    templates: tuple[str, ...] = TEMPLATES
    title: bool = True
    tags: bool = True
    description: bool = True
    n_noise_words: int = 2
    p_class: float = 1.0
    seed: int = 0

    def __post_init__(self):
        if self.kind not in ("class_name", "template", "web"):
            raise ValueError(f"kind must be 'class_name', 'template' or 'web', got {self.kind!r}")
        unknown = set(self.attributes) - set(ATTRIBUTES)
        if unknown:
            raise ValueError(f"unknown attributes {sorted(unknown)}; choose from {tuple(ATTRIBUTES)}")
        if self.kind == "web" and not (self.title or self.tags or self.description):
            raise ValueError("a web caption needs at least one of title, tags, description")
        if not all("{}" in t for t in self.templates) or not self.templates:
            raise ValueError("every template must contain '{}'")
        for name in ("p_mention", "p_class"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be a probability, got {getattr(self, name)}")


def with_article(phrases: Iterable[str]) -> list[str]:
    """'a red circle', 'an orange circle'."""
    return [("an " if p[:1] in "aeiou" else "a ") + p for p in phrases]


def _join(*columns: np.ndarray, sep: str = " ") -> np.ndarray:
    """Row-wise join of string columns, skipping empty entries."""
    return np.array([sep.join(filter(None, row)) for row in zip(*columns)], dtype=object)


def _lookup(table: Sequence[str], codes, mentioned: np.ndarray) -> np.ndarray:
    """The table entry of each code where mentioned, else ''."""
    return np.where(mentioned, np.asarray(table, dtype=object)[np.asarray(codes)], "")


def _shuffled_rows(words: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each row of a (n, k) word table in its own random order (random sort keys)."""
    order = np.argsort(rng.random(words.shape), axis=1)
    return np.take_along_axis(words, order, axis=1)


def captions(latents: pd.DataFrame, spec: CaptionSpec = CaptionSpec(), class_attribute: str = "shape") -> list[str]:
    """One caption per row of a latents table (:func:`clipbook.data.shapes.sample_latents`).

    Deterministic given ``spec.seed``; each random choice (which attributes, which template,
    which filler) comes from its own stream, so switching a field on or off leaves the rest alone.
    """
    n = len(latents)

    def rng(name: str) -> np.random.Generator:
        return rng_stream(spec.seed, "captions", name)

    if spec.kind == "class_name":
        return list(_lookup(WORDS[class_attribute], latents[class_attribute], np.ones(n, bool)))
    mention = {a: (rng(a).random(n) < spec.p_mention) & (a in spec.attributes) for a in ATTRIBUTES}
    p_class = spec.p_class if spec.kind == "web" else 1.0
    mention[class_attribute] = rng("class").random(n) < p_class
    word = {a: _lookup(WORDS[a], latents[a], mention[a]) for a in ATTRIBUTES}
    noun = np.where(mention["shape"], word["shape"], "object")
    noun_phrase = _join(*(word[a] for a in _ADJECTIVES), noun)
    tail = [_lookup(PHRASES[a], latents[a], mention[a]) for a in ("background", "position")]
    if spec.kind == "template":
        template = np.asarray(spec.templates, dtype=object)[rng("template").integers(len(spec.templates), size=n)]
        return [t.format(p) for t, p in zip(template, _join(with_article(noun_phrase), *tail))]
    fields = []
    noise = np.asarray(NOISE_WORDS, dtype=object)
    if spec.title:
        fields.append(_join(*noise[rng("title").integers(len(noise), size=(spec.n_noise_words, n))], noun_phrase))
    if spec.tags:
        tags = np.column_stack([*word.values(), noise[rng("tags").integers(len(noise), size=(n, spec.n_noise_words))]])
        fields.append(_join(*_shuffled_rows(tags, rng("tag order")).T))
    if spec.description:
        medium = np.where(mention["style"], np.asarray(PHRASES["style"], dtype=object)[latents["style"].to_numpy()],
                          "an image")
        fields.append(_join(medium + " of " + np.asarray(with_article(noun_phrase), dtype=object), *tail) + ".")
    return list(_join(*fields))


def zero_shot_prompts(class_names: Sequence[str], templates: Sequence[str] = TEMPLATES) -> list[list[str]]:
    """For each class, its prompt ensemble: every template around 'a <class>'."""
    return [[t.format(p) for t in templates] for p in with_article(class_names)]


# ---------------------------------------------------------------- tokenizer

_WORD = re.compile(r"[a-z0-9]+")


def words_of(text: str) -> list[str]:
    """Lower-case words; punctuation is dropped (it carries nothing in this world)."""
    return _WORD.findall(text.lower())


def caption_labels(texts: Sequence[str], class_names: Sequence[str]) -> np.ndarray:
    """Labels read off the captions, Fang et al.'s YFCC-Cls recipe: the class whose name the
    caption contains, or -1 when it names none or several (such images are left out)."""
    index = {name: k for k, name in enumerate(class_names)}
    labels = np.full(len(texts), -1)
    for i, text in enumerate(texts):
        found = {index[w] for w in words_of(text) if w in index}
        if len(found) == 1:
            labels[i] = found.pop()
    return labels


def vocabulary() -> list[str]:
    """Every word a shapes caption or prompt can contain, sorted."""
    texts = [*TEMPLATES, *NOISE_WORDS, "an image of a object"]
    for table in (*WORDS.values(), *PHRASES.values()):
        texts.extend(table)
    return sorted({w for t in texts for w in words_of(t)})


class WordTokenizer:
    """Words -> ids with a fixed context length, called like an open_clip tokenizer.

    ``tok(texts) -> LongTensor (N, context_length)``: ``<start>``, the words (unknown ones as
    ``<unk>``), ``<end>``, then padding 0. As in CLIP's BPE vocabulary the end token has the
    largest id, so open_clip's text tower (which pools at ``text.argmax(-1)``) takes these
    tokens unchanged. Text too long for the context is cut, keeping ``<end>`` last.
    """

    PAD, START, UNKNOWN = 0, 1, 2

    def __init__(self, words: Iterable[str] | None = None, context_length: int = 48):
        if context_length < 2:
            raise ValueError("context_length must leave room for <start> and <end>")
        words = [w for w in dict.fromkeys(vocabulary() if words is None else words)]
        self.words = ("<pad>", "<start>", "<unk>", *words, "<end>")
        self.ids = {w: i for i, w in enumerate(self.words)}
        self.context_length = context_length

    @property
    def vocab_size(self) -> int:
        return len(self.words)

    @property
    def sot_token_id(self) -> int:
        return self.START

    @property
    def eot_token_id(self) -> int:
        return len(self.words) - 1

    def encode(self, text: str) -> list[int]:
        return [self.ids.get(w, self.UNKNOWN) for w in words_of(text)]

    def __call__(self, texts: str | Sequence[str], context_length: int | None = None) -> torch.Tensor:
        texts = [texts] if isinstance(texts, str) else texts
        length = context_length or self.context_length
        rows = [[self.START, *self.encode(text)[: length - 2], self.eot_token_id] for text in texts]
        padded = [row + [self.PAD] * (length - len(row)) for row in rows]
        return torch.tensor(padded, dtype=torch.long).reshape(len(rows), length)

    def decode(self, tokens: torch.Tensor) -> list[str]:
        """The words of each row, without start, end and padding (unknown words as ``<unk>``)."""
        special = {self.PAD, self.START, self.eot_token_id}
        return [" ".join(self.words[i] for i in row if i not in special) for row in tokens.tolist()]
