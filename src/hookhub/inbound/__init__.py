"""Inbound: trigger URLs that third parties call, turned into durable workflow runs.

route (plain Starlette) → auth → parsing → pre-filter / dedupe → group commit (db.group) → runs
"""
