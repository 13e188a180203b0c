"""The network follows the line: SIM and number inventory (inventory.py), what the HLR should hold for each line and
the provisioning outbox that tells it (service.py, tasks.py), the adapters that speak to a real HLR or a provisioning
gateway (adapters/), the drift check that proves the two agree (drift.py), and eSIM activation codes (esim.py).

It sits below `line`: the line domain calls `service.follow` in the transaction of every state change. It knows
lines only by id, number, operator and state, as they are handed to it."""
