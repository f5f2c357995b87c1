"""The word lists the catalogue generator draws from: WebShop's five categories and their products.

Each product type names its noun phrase (the product's type, which r_type compares), the search
query WebShop scraped it under, its Amazon category path, the attributes its goals ask for and the
customisation options it is sold with. Openers are the most frequent first words of the 12,087
human instructions in WebShop's `human_goals.json` (MIT, Princeton NLP).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ProductType:
    noun: str
    query: str
    path: str
    attributes: tuple[str, ...]
    options: tuple[str, ...]
    """Keys of OPTION_VALUES, with distinct option names (a raw item's options are keyed by name)."""


OPTION_VALUES: dict[str, tuple[str, tuple[str, ...]]] = {
    "apparel_color": ("Color", ("Black", "White", "Navy Blue", "Heather Grey", "Burgundy", "Olive Green", "Pink", "Khaki")),
    "apparel_size": ("Size", ("Small", "Medium", "Large", "XL", "XXL")),
    "shoe_size": ("Size", ("6", "7", "8", "9", "10", "11", "12")),
    "home_color": ("Color", ("Grey", "Beige", "Walnut Brown", "Black", "White", "Navy", "Teal")),
    "bed_size": ("Size", ("Twin", "Full", "Queen", "King")),
    "furniture_size": ("Size", ("24 inch", "30 inch", "36 inch", "48 inch")),
    "flavor": ("Flavor Name", ("Original", "Sea Salt", "Honey BBQ", "Sour Cream & Onion", "Dark Chocolate", "Vanilla", "Spicy Beef")),
    "food_pack": ("Size", ("2 Count", "4 Count", "6 Count", "12 Count", "24 Count")),
    "beauty_size": ("Size", ("1 fl oz", "3.4 fl oz", "6.76 fl oz", "16 fl oz")),
    "scent": ("Scent", ("Lavender", "Coconut", "Unscented", "Rose", "Citrus", "Eucalyptus Mint")),
    "shade": ("Color", ("Light Beige", "Natural Ivory", "Warm Sand", "Rose Gold", "Cocoa", "Coral")),
    "device_color": ("Color", ("Black", "Silver", "White", "Rose Gold", "Space Grey", "Blue")),
    "capacity": ("Capacity", ("32GB", "64GB", "128GB", "256GB")),
    "cable_length": ("Length", ("3 ft", "6 ft", "10 ft", "15 ft", "25 ft")),
    "pattern": ("Style", ("Solid", "Striped", "Floral", "Plaid", "Geometric")),
}  # fmt: skip
"""Each list in order, so that neighbouring values are near misses (a size up, the next colour); no
value is accepted by the reward for another of its list (master's fuzzy match takes 'x-large' for
'large' and 'pack of 4' for 'pack of 2', hence 'XL' and '4 Count')."""

PRODUCT_TYPES: dict[str, tuple[ProductType, ...]] = {
    "beauty": (
        ProductType("styling cream", "styling cream", "Beauty & Personal Care › Hair Care › Styling Products › Creams", ("cruelty free", "paraben free", "for dry hair", "long lasting"), ("scent", "beauty_size")),
        ProductType("shampoo", "sulfate free shampoo", "Beauty & Personal Care › Hair Care › Shampoo & Conditioner › Shampoos", ("sulfate free", "paraben free", "natural ingredients", "for dry hair"), ("scent", "beauty_size")),
        ProductType("foundation", "liquid foundation", "Beauty & Personal Care › Makeup › Face › Foundation", ("long lasting", "cruelty free", "oil free", "easy to apply"), ("shade",)),
        ProductType("lipstick", "matte lipstick", "Beauty & Personal Care › Makeup › Lips › Lipstick", ("long lasting", "cruelty free", "paraben free"), ("shade",)),
        ProductType("body lotion", "body lotion", "Beauty & Personal Care › Skin Care › Body › Moisturizers › Lotions", ("fragrance free", "dermatologist tested", "natural ingredients", "for sensitive skin"), ("scent", "beauty_size")),
        ProductType("hair extension", "clip in hair extensions", "Beauty & Personal Care › Hair Care › Hair Extensions, Wigs & Accessories › Extensions", ("natural looking", "high quality", "easy to apply"), ("shade",)),
        ProductType("nail polish", "nail polish", "Beauty & Personal Care › Foot, Hand & Nail Care › Nail Art & Polish › Nail Polish", ("non toxic", "long lasting", "quick drying"), ("shade",)),
        ProductType("face serum", "vitamin c serum", "Beauty & Personal Care › Skin Care › Face › Treatments & Masks › Serums", ("anti aging", "paraben free", "for sensitive skin", "cruelty free"), ("beauty_size",)),
    ),
    "food": (
        ProductType("potato chips", "potato chips", "Grocery & Gourmet Food › Snacks & Sweets › Chips & Crisps › Potato", ("gluten free", "non gmo", "kosher certified"), ("flavor", "food_pack")),
        ProductType("beef jerky", "beef jerky", "Grocery & Gourmet Food › Meat & Seafood › Jerky & Dried Meats › Beef", ("high protein", "gluten free", "low sugar"), ("flavor", "food_pack")),
        ProductType("granola bars", "granola bars", "Grocery & Gourmet Food › Snacks & Sweets › Bars › Granola Bars", ("gluten free", "low sugar", "whole grain", "non gmo"), ("flavor", "food_pack")),
        ProductType("coffee beans", "whole bean coffee", "Grocery & Gourmet Food › Beverages › Coffee, Tea & Cocoa › Coffee › Whole Coffee Beans", ("usda organic", "fair trade", "non gmo"), ("food_pack",)),
        ProductType("crackers", "crackers", "Grocery & Gourmet Food › Snacks & Sweets › Crackers", ("shelf stable", "keto friendly", "gluten free"), ("flavor", "food_pack")),
        ProductType("protein powder", "protein powder", "Grocery & Gourmet Food › Pantry Staples › Baking Mixes › Protein Powder", ("sugar free", "high protein", "plant based", "dairy free"), ("flavor",)),
        ProductType("herbal tea", "herbal tea bags", "Grocery & Gourmet Food › Beverages › Coffee, Tea & Cocoa › Tea › Herbal", ("caffeine free", "usda organic", "non gmo"), ("food_pack",)),
        ProductType("dark chocolate", "dark chocolate bar", "Grocery & Gourmet Food › Snacks & Sweets › Chocolate › Chocolate Bars", ("dairy free", "fair trade", "low sugar"), ("food_pack",)),
    ),
    "fashion": (
        ProductType("workout sweatpants", "womens sweatpants", "Clothing, Shoes & Jewelry › Women › Clothing › Active › Active Pants", ("relaxed fit", "machine wash", "elastic waistband", "drawstring closure"), ("apparel_color", "apparel_size")),
        ProductType("running shoes", "mens running shoes", "Clothing, Shoes & Jewelry › Men › Shoes › Athletic › Running", ("rubber sole", "lace up", "non slip", "breathable mesh"), ("apparel_color", "shoe_size")),
        ProductType("t-shirt", "mens t shirt", "Clothing, Shoes & Jewelry › Men › Clothing › Shirts › T-Shirts", ("short sleeve", "machine wash", "cotton spandex", "regular fit"), ("apparel_color", "apparel_size")),
        ProductType("high heel pumps", "womens high heel shoes", "Clothing, Shoes & Jewelry › Women › Shoes › Pumps", ("rubber sole", "closed toe", "ankle strap"), ("apparel_color", "shoe_size")),
        ProductType("hoodie", "pullover hoodie", "Clothing, Shoes & Jewelry › Women › Clothing › Fashion Hoodies & Sweatshirts", ("long sleeve", "machine wash", "loose fit", "polyester cotton"), ("apparel_color", "apparel_size")),
        ProductType("yoga leggings", "high waist yoga pants", "Clothing, Shoes & Jewelry › Women › Clothing › Active › Leggings", ("high waist", "tummy control", "butt lifting", "machine wash"), ("apparel_color", "apparel_size")),
        ProductType("rain jacket", "womens rain jacket", "Clothing, Shoes & Jewelry › Women › Clothing › Coats, Jackets & Vests › Raincoats", ("water resistant", "zipper closure", "hood included"), ("apparel_color", "apparel_size")),
        ProductType("dress socks", "mens dress socks", "Clothing, Shoes & Jewelry › Men › Clothing › Socks › Dress & Trouser Socks", ("machine wash", "moisture wicking", "cotton blend"), ("pattern", "food_pack")),
    ),
    "furniture": (
        ProductType("ottoman bench", "storage ottoman bench", "Home & Kitchen › Furniture › Living Room Furniture › Ottomans", ("space saving", "easy assemble", "storage space", "faux leather"), ("home_color", "furniture_size")),
        ProductType("sectional sofa", "sectional sofa", "Home & Kitchen › Furniture › Living Room Furniture › Sofas & Couches", ("living room", "easy assemble", "solid wood", "high density foam"), ("home_color",)),
        ProductType("bedspread set", "bedspread set", "Home & Kitchen › Bedding › Quilts & Sets › Bedspreads & Coverlets", ("machine washable", "king size", "soft microfiber"), ("home_color", "bed_size")),
        ProductType("bookshelf", "bookshelf", "Home & Kitchen › Furniture › Home Office Furniture › Bookcases", ("easy assemble", "storage space", "engineered wood", "living room"), ("home_color", "furniture_size")),
        ProductType("office chair", "ergonomic office chair", "Home & Kitchen › Furniture › Home Office Furniture › Home Office Chairs › Desk Chairs", ("lumbar support", "height adjustable", "easy assemble", "high density foam"), ("home_color",)),
        ProductType("coffee table", "coffee table", "Home & Kitchen › Furniture › Living Room Furniture › Tables › Coffee Tables", ("living room", "solid wood", "storage space", "easy clean"), ("home_color",)),
        ProductType("blackout curtains", "blackout curtains", "Home & Kitchen › Home Décor › Window Treatments › Curtains & Drapes › Panels", ("machine washable", "thermal insulated", "living room"), ("home_color", "furniture_size")),
        ProductType("nightstand", "nightstand", "Home & Kitchen › Furniture › Bedroom Furniture › Nightstands", ("easy assemble", "storage space", "engineered wood"), ("home_color",)),
    ),
    "electronics": (
        ProductType("usb microphone", "usb microphone", "Electronics › Computers & Accessories › Computer Accessories & Peripherals › Audio & Video Accessories › Computer Microphones", ("noise cancelling", "plug and play", "high performance"), ("device_color",)),
        ProductType("car subwoofer", "car subwoofer", "Electronics › Car & Vehicle Electronics › Car Electronics › Car Audio › Subwoofers", ("high power", "easy install", "dual voice coil"), ("furniture_size",)),
        ProductType("remote control", "replacement remote control", "Electronics › Television & Video › Accessories › Remote Controls", ("batteries included", "easy use", "long range"), ("device_color",)),
        ProductType("wireless earbuds", "wireless earbuds", "Electronics › Headphones, Earbuds & Accessories › Headphones & Earbuds › Earbud Headphones", ("noise cancelling", "long battery life", "water resistant", "hands free"), ("device_color",)),
        ProductType("phone case", "phone case", "Cell Phones & Accessories › Cases, Holsters & Sleeves › Basic Cases", ("shock absorbing", "wireless charging", "slim fit"), ("device_color", "pattern")),
        ProductType("memory card", "micro sd card", "Electronics › Computers & Accessories › Memory Cards › Micro SD Cards", ("high speed", "plug and play", "water resistant"), ("capacity",)),
        ProductType("bluetooth speaker", "portable bluetooth speaker", "Electronics › Portable Audio & Video › Portable Speakers & Docks › Portable Bluetooth Speakers", ("water resistant", "long battery life", "high performance"), ("device_color",)),
        ProductType("hdmi cable", "hdmi cable", "Electronics › Television & Video › Accessories › Cables › HDMI Cables", ("high speed", "gold plated", "plug and play"), ("cable_length", "food_pack")),
    ),
}  # fmt: skip

CATEGORY_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "beauty": ("vegan", "travel size", "made in usa", "alcohol free"),
    "food": ("individually wrapped", "low calorie", "ready to eat", "no artificial flavors"),
    "fashion": ("quick dry", "soft material", "everyday wear", "classic fit"),
    "furniture": ("mid century", "heavy duty", "stain resistant", "pet friendly"),
    "electronics": ("fast charging", "usb c", "lightweight", "energy efficient"),
}
"""Attributes any product of the category can have, besides its type's. Each goal product has two of
its type's attributes and one of these, so that its attribute set is rarely another family's too."""

FILLER_SENTENCES = (
    "Ships in a protective box.", "Satisfaction guaranteed or your money back.",
    "Our customer service team answers within 24 hours.", "Each item is inspected before it leaves the warehouse.",
    "Pictures are for reference and the actual item may vary slightly.", "Store in a cool place away from sunlight.",
    "A thoughtful present for family and friends.", "Thousands of happy customers trust this seller.",
)  # fmt: skip
"""Sentences without attribute or option words: descriptions of varied length, as upstream's are, so
that BM25's length normalisation ranks near misses above the goal product now and then."""

PRICE_BANDS: dict[str, tuple[float, float]] = {
    "beauty": (5.0, 60.0),
    "food": (3.0, 45.0),
    "fashion": (9.0, 90.0),
    "furniture": (25.0, 400.0),
    "electronics": (6.0, 180.0),
}

BRANDS = (
    "Lumora", "Vantrex", "Kelvora", "Brisa", "Ostrel", "Quenby", "Harlow", "Nimbra", "Zestly", "Corvana",
    "Pellio", "Marwick", "Tovana", "Fennix", "Alderly", "Sorenza", "Juniva", "Rexford", "Calyra", "Dunmore",
    "Evrett", "Galloway", "Ilvana", "Kestrel", "Lorwyn", "Mirabel", "Norvik", "Oakhaven", "Prisma", "Quillon",
)  # fmt: skip

STYLE_WORDS = ("premium", "classic", "modern", "compact", "deluxe", "everyday", "ultra", "simple")
"""Adjectives put before the noun phrase so that titles of one type differ (all in nouns.ADJECTIVES)."""

OPENERS = (
    "i am looking for", "im looking for", "i would like", "i need", "i want", "i am interested in",
    "find me", "get me", "can you find me", "i am searching for",
)  # fmt: skip
