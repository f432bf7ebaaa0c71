"""Value pools drawn from Faker once per run: no Faker call per event (Faker costs ~200 µs a call here)."""

from __future__ import annotations

import random
from dataclasses import dataclass

BROWSERS_BY_DEVICE = {
    "mobile": (("Chrome Mobile", 52), ("Mobile Safari", 38), ("Samsung Internet", 7), ("Firefox Mobile", 3)),
    "tablet": (("Mobile Safari", 60), ("Chrome Mobile", 35), ("Samsung Internet", 5)),
    "desktop": (("Chrome", 64), ("Safari", 14), ("Edge", 12), ("Firefox", 10)),
}
SEARCH_ENGINES = ("https://www.google.com/", "https://www.bing.com/", "https://duckduckgo.com/")
SOCIAL_SITES = (
    "https://www.facebook.com/",
    "https://www.instagram.com/",
    "https://t.co/",
    "https://www.tiktok.com/",
    "https://www.pinterest.com/",
)
COUNTRIES = ("US", "US", "US", "GB", "DE", "FR", "CA", "AU", "NL", "ES", "IT", "SE")
CATEGORIES = ("shoes", "dresses", "jackets", "bags", "watches", "electronics", "home", "beauty", "toys", "sports")


@dataclass(frozen=True)
class Pools:
    locations: tuple[str, ...]
    location_weights: tuple[float, ...]
    search_terms: tuple[str, ...]
    referral_sites: tuple[str, ...]
    product_ids: tuple[str, ...]
    product_cum_weights: tuple[float, ...]
    product_category: tuple[str, ...]


def build_pools(seed: int, products: int, zipf_exponent: float = 1.1) -> Pools:
    """Draw every Faker-made value once. Product popularity follows Zipf (rank ** -s): a few sell most."""
    from faker import Faker  # ~0.2 s to import: only when a run starts, not when the CLI or Dagster loads

    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    cities = sorted({f"{fake.city()}, {rng.choice(COUNTRIES)}" for _ in range(400)})
    location_weights = tuple(1.0 / (i + 1) ** 0.8 for i in range(len(cities)))
    terms = sorted({fake.word() for _ in range(600)})
    referral = sorted({f"https://{fake.domain_name()}/" for _ in range(120)})
    ids = tuple(f"P{n:06d}" for n in range(1, products + 1))
    order = list(range(products))
    rng.shuffle(order)  # popularity rank is not the id order
    weights = [0.0] * products
    for rank, index in enumerate(order, start=1):
        weights[index] = rank**-zipf_exponent
    cum, total = [], 0.0
    for w in weights:
        total += w
        cum.append(total)
    return Pools(
        locations=tuple(cities),
        location_weights=location_weights,
        search_terms=tuple(terms),
        referral_sites=tuple(referral),
        product_ids=ids,
        product_cum_weights=tuple(cum),
        product_category=tuple(CATEGORIES[rng.randrange(len(CATEGORIES))] for _ in ids),
    )
