"""Languages and formats: the catalogs (`<language>/LC_MESSAGES/messages.po`), which language a tag or a browser
picks (`languages`), and how money, dates, times and phone numbers are written for a reader (`formats`).

Pages, messages and receipts all go through here; it imports only `simkeep.core`."""
