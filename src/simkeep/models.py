"""Every table, imported in one place for Alembic and the test schema checks."""

from simkeep.audit.models import AuditEntry
from simkeep.auth.models import ApiKey
from simkeep.catalog.models import Offer, Operator
from simkeep.charge.models import Charge
from simkeep.db import Base
from simkeep.ledger.models import Account, JournalEntry, Posting
from simkeep.line.models import Line, LineEvent, LineNote
from simkeep.network.models import NetworkLine, NetworkNumber, ProvisioningCommand, Sim
from simkeep.notification.models import DeliveryAttempt, OutboxMessage, WebhookEndpoint
from simkeep.ops.models import WorkerHeartbeat
from simkeep.otp.models import OtpChallenge, OtpFailure, OtpNumber
from simkeep.payment.models import InboxEvent, PaymentAttempt, Refund
from simkeep.payment.providers.sepa.models import BankEntry, BankStatement
from simkeep.plan.autorenew_models import AutoRenewCharge, AutoRenewSetting, SavedMethod
from simkeep.plan.models import KeepPlan
from simkeep.privacy.models import Erasure, RetentionRun
from simkeep.promotion.models import Promotion, PromotionUse, Quote
from simkeep.receipt.models import Receipt, ReceiptCounter, ReceiptPdf
from simkeep.reseller.models import Reseller
from simkeep.sandbox.models import SandboxPayment
from simkeep.session.models import WebSession
from simkeep.staff.models import StaffAccount
from simkeep.store.models import CounterDevice, Drawer, IdCheck, Store, StoreSale
from simkeep.topup.models import TopUp
from simkeep.ussd.models import UssdSession
from simkeep.voice.http_models import VoiceHttpTurn
from simkeep.voice.models import VoiceCall, VoiceTurn
from simkeep.voucher.models import BulkAction, SerialCounter, Voucher, VoucherBatch, VoucherFailure, VoucherPurchase

__all__ = [
           "Account",
           "ApiKey",
           "AuditEntry",
           "AutoRenewCharge",
           "AutoRenewSetting",
           "BankEntry",
           "BankStatement",
           "Base",
           "BulkAction",
           "Charge",
           "CounterDevice",
           "DeliveryAttempt",
           "Drawer",
           "Erasure",
           "IdCheck",
           "InboxEvent",
           "JournalEntry",
           "KeepPlan",
           "Line",
           "LineEvent",
           "LineNote",
           "NetworkLine",
           "NetworkNumber",
           "Offer",
           "Operator",
           "OtpChallenge",
           "OtpFailure",
           "OtpNumber",
           "OutboxMessage",
           "PaymentAttempt",
           "Posting",
           "Promotion",
           "PromotionUse",
           "ProvisioningCommand",
           "Quote",
           "Receipt",
           "ReceiptCounter",
           "ReceiptPdf",
           "Refund",
           "Reseller",
           "RetentionRun",
           "SandboxPayment",
           "SavedMethod",
           "SerialCounter",
           "Sim",
           "StaffAccount",
           "Store",
           "StoreSale",
           "TopUp",
           "UssdSession",
           "VoiceCall",
           "VoiceHttpTurn",
           "VoiceTurn",
           "Voucher",
           "VoucherBatch",
           "VoucherFailure",
           "VoucherPurchase",
           "WebSession",
           "WebhookEndpoint",
           "WorkerHeartbeat",
]
