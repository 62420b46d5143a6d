"""Machine learning of the local server: reading tables, encoding them, training foundational models and predictors.

Imports only the server's shared modules (service, store, limits, webhook_policy): never jobs/ or http/.
"""
