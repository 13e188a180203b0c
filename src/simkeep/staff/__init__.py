"""Back-office staff: personal accounts, roles, passwords (argon2), a TOTP second factor, lockout."""
