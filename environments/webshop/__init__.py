"""WebShop as text: entry point `webshop = "agentrl.environments.webshop:WebShop"`."""

from agentrl.environments.webshop.webshop import WebShop, WebShopEpisode

__all__ = ["WebShop", "WebShopEpisode"]
