"""WeCom (企业微信) self-built app: template cards DM'd to members, the encrypted callback."""
