"""Shared fixtures: paths to the real data (skipping when absent) and a tiny hand-made store."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest
from flax import nnx

from jaxrec.data.store_data import StoreData, build_store_data
from jaxrec.data.synthetic import ensure_default_catalog
from jaxrec.data.types import Goal, Product
from jaxrec.models.bert import Bert
from jaxrec.models.config import BertConfig
from jaxrec.models.policy import ChoicePolicy
from jaxrec.models.tokenizer import WEBSHOP_TOKENS, WebShopTokenizer
from jaxrec.models.weights import default_bert_dir


def _env_dir(variable: str, what: str) -> Path:
    value = os.environ.get(variable)
    if not value:
        pytest.skip(f"{variable} is not set: {what} not available")
    path = Path(value)
    if not path.is_dir():
        pytest.skip(f"{variable}={value} is not a folder: {what} not available")
    return path


@pytest.fixture(scope="session")
def webshop_dir() -> Path:
    """The real WebShop 1,000-product data (JAXREC_WEBSHOP_DATA)."""
    return _env_dir("JAXREC_WEBSHOP_DATA", "real WebShop data")


@pytest.fixture(scope="session")
def golden_dir() -> Path:
    """The golden recordings of the original WebShop (JAXREC_GOLDEN)."""
    return _env_dir("JAXREC_GOLDEN", "golden WebShop recordings")


@pytest.fixture(scope="session")
def tokenizer() -> WebShopTokenizer:
    """MiniLM's tokenizer with WebShop's four tokens (the package `make setup` installs)."""
    return WebShopTokenizer.from_folder(default_bert_dir(), extra_tokens=WEBSHOP_TOKENS)


@pytest.fixture(scope="session")
def synthetic() -> StoreData:
    """The embedded synthetic catalog, as the store sees it."""
    return build_store_data(ensure_default_catalog())


@pytest.fixture(scope="module")
def policy(tokenizer: WebShopTokenizer) -> ChoicePolicy:
    """A tiny random choice policy over the MiniLM vocabulary (one per test module)."""
    config = dataclasses.replace(BertConfig.tiny(), vocab_size=len(tokenizer))
    rngs = nnx.Rngs(0)
    return ChoicePolicy(Bert(config, rngs=rngs), rngs=rngs)


def make_product(asin: str, title: str, **fields) -> Product:
    """A product with sensible defaults for the fields a test does not care about."""
    base = dict(
        description=f"{title} description",
        bullet_points=(f"{title} bullet",),
        category="garden",
        query="pillows",
        product_category="Home › Bedding › Pillows",
        pricing=(10.0,),
        price_tag="$10.0",
    )
    base.update(fields)
    return Product(asin=asin, title=title, **base)


def make_goal(asin: str, **fields) -> Goal:
    base = dict(
        index=0,
        instruction_text="Find me blue pillows",
        attributes=("blue",),
        goal_options={},
        price_upper=50.0,
        weight=1.0,
        category="garden",
        query="pillows",
        name="Blue pillow",
        product_category="Home › Bedding › Pillows",
    )
    base.update(fields)
    return Goal(asin=asin, **base)


@pytest.fixture()
def tiny_catalog() -> tuple[tuple[Product, ...], dict[str, float], tuple[Goal, ...]]:
    """Twelve pillows (two results pages for 'pillow') plus one lamp, and two goals."""
    pillows = [
        make_product(
            f"P{i:09d}",
            f"Soft pillow number {i}",
            options={"color": ("navy blue", "red"), "size": ('18" x 18"', "large")}
            if i == 0
            else {},
            pricing=(10.0 + i,),
            price_tag=f"${10.0 + i}",
        )
        for i in range(12)
    ]
    lamp = make_product(
        "L000000001",
        "Desk lamp",
        query="lamps",
        product_category="Home › Lighting › Lamps",
        description="A bright lamp",
        bullet_points=("first bullet", "second bullet"),
    )
    products = (*pillows, lamp)
    prices = {p.asin: p.pricing[0] for p in products}
    goals = (
        make_goal(
            "P000000000",
            index=0,
            instruction_text="Find me a soft pillow with color: navy blue",
            attributes=("soft",),
            goal_options={"color": "navy blue"},
            price_upper=20.0,
            weight=3.0,
        ),
        make_goal(
            "L000000001",
            index=1,
            instruction_text="Find me a bright desk lamp",
            attributes=("bright",),
            query="lamps",
            name="Desk lamp",
            product_category="Home › Lighting › Lamps",
            weight=1.0,
        ),
    )
    return products, prices, goals
