"""Where the API key comes from and how it is kept: key resolution, the vault format and
store, and the OpenClaw exec secret provider."""
