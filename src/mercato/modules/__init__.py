"""Business modules. Each uses another only through that module's package (`__init__`)."""
