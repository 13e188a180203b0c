"""SMS commands: a subscriber texts SOLDE / BALANCE / 余额, RECHARGE <PIN> / 充值 <PIN>, LANG, AIDE / HELP / 帮助 (and
STOP) to the operator's number; the text arrives over SMPP (deliver_sm) and the answer leaves through the outbox.
Every command is a call of the service the portal calls."""
