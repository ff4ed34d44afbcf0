"""hookhub's Python SDK: the API client, the transactional outbox and receivers' verify helpers.

Import the public names from `hookhub` itself (`hookhub.emit`, `hookhub.Client`, ...).
"""
