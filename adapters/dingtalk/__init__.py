"""DingTalk: the app's robot sends cards (our own aiohttp client); Stream or HTTP brings clicks."""
