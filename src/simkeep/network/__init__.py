"""The network follows the line: SIM and number inventory (inventory.py), eSIM profiles and their activation codes
(esim.py), what the HLR should hold for each line (service.py) and the provisioning outbox that tells it (outbox.py,
sent by the worker's jobs in tasks.py), the adapters that speak to a real HLR or a provisioning gateway (adapters/),
and the drift check that proves the two agree (drift.py). Queries live in repository.py.

It sits below `line`: the line domain calls `service.follow` in the transaction of every state change. It knows
lines only by id, number, operator and state, as they are handed to it (`inventory.LineRef`)."""
