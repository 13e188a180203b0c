"""The hotline over SIP and RTP: a small asyncio user agent written for this job (RFC 3261 over UDP, SDP offer/
answer, RTP with RFC 4733 key events, SIP INFO keys, blind transfer by REFER, registration with digest auth). It
carries any `voice.flow.Dialogue`: agent.py (transport, transactions, who calls), call.py (one call), rtp.py,
sdp.py, message.py, register.py, digest.py, serve.py (the process)."""
