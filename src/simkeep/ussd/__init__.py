"""USSD menus over SMPP: `*100#` opens a session (balance, renew with a card PIN, language) carried by
`ussd_service_op` and `its_session_info`; each answer fits one USSD screen in the caller's language."""
