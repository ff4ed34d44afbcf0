"""Workflows: the document users save, its validation, and the engine that runs its nodes.

trigger request → run → engine → nodes (condition, request, emit, set, response, command,
delay, foreach)
"""
