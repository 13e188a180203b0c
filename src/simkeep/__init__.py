"""simkeep: prepaid number-keeping platform."""
