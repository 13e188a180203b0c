"""The books from the ledger: journal entries and balances per account for a period (CSV, XLSX), the French
Fichier des Écritures Comptables (FEC), and the register that proves receipts are numbered without gaps."""
