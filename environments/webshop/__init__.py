"""WebShop as text: entry point `webshop = "environments.webshop:WebShop"`."""

from environments.webshop.webshop import WebShop, WebShopEpisode

__all__ = ["WebShop", "WebShopEpisode"]
