"""Faust stream processors: link reports, apply incident events, fan out, deliver.

Each processor is a thin loop: decode and validate the message, call one service
function inside one database transaction, publish what comes out. Invalid input
goes to the dead-letter topic with its reason; nothing a message contains can stop
a worker.
"""
