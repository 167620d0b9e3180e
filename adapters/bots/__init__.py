"""Group bots that take a webhook: one module per platform, one sender for all of them."""
