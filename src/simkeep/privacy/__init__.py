"""Personal-data rights (GDPR): everything simkeep holds about a number or an e-mail as one archive, erasing or
pseudonymising a former subscriber while the accounting records the law requires stay, and the retention jobs."""
