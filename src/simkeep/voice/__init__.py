"""The hotline's voice menu: a dialogue (menu.py) that speaks in prompt pieces and gathers keypad digits, served over
SIP and RTP (sip/) or to an operator's IVR platform over signed HTTP (api.py). `flow.py` is what they share."""
