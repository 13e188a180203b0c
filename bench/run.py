"""Run the benchmarks in order and end with a summary of every `bench:` line.

    python -m bench.run                          # everything, full sizes (make bench)
    python -m bench.run --quick                  # smaller sizes, shorter runs, for development
    python -m bench.run --only topup_pg,sweep_sqlite
"""

from __future__ import annotations

import argparse
import os
import time

from bench.accounting import bench_accounting_pg
from bench.audit_log import bench_audit_pg
from bench.autorenew import bench_autorenew_pg
from bench.cashback import bench_cashback_sqlite
from bench.checkout import bench_checkout_pg
from bench.common import FULL, QUICK, RESULTS, note, report
from bench.counter import bench_counter_pg, bench_counter_quotes_pg, bench_counter_quotes_sqlite, bench_counter_sqlite
from bench.dashboard import bench_dashboard_pg
from bench.line_search import bench_line_search_pg
from bench.metrics import bench_metrics_pg
from bench.network import bench_network_hlr
from bench.network_drift import bench_network_drift_pg, bench_network_drift_sqlite
from bench.pages import bench_pages
from bench.plans import bench_plans
from bench.portal_quotes import bench_portal_quotes
from bench.privacy import bench_privacy_pg
from bench.promotions import bench_promotions_pg, bench_promotions_sqlite
from bench.receipts import bench_receipts
from bench.reminders import bench_reminders
from bench.smpp import bench_smpp
from bench.sms_commands import bench_sms_commands_pg, bench_sms_commands_sqlite
from bench.stores import bench_stores_pg, bench_stores_sqlite
from bench.sweep import bench_sweep_pg, bench_sweep_sqlite
from bench.topup import bench_topup_pg, bench_topup_sqlite
from bench.ussd import bench_ussd
from bench.voice import bench_voice
from bench.voice_http import bench_voice_http
from bench.voice_menu import bench_voice_menu_pg, bench_voice_menu_sqlite
from bench.voice_prompts import bench_voice_prompts
from bench.voucher import bench_voucher_pg
from bench.vouchers import bench_vouchers_pg, bench_vouchers_sqlite

BENCHMARKS = {
    "topup_pg": bench_topup_pg,
    "topup_sqlite": bench_topup_sqlite,
    "sweep_sqlite": bench_sweep_sqlite,
    "sweep_pg": bench_sweep_pg,
    "pages": bench_pages,
    "reminders": bench_reminders,
    "smpp": bench_smpp,
    "checkout_pg": bench_checkout_pg,
    "vouchers_pg": bench_vouchers_pg,
    "vouchers_sqlite": bench_vouchers_sqlite,
    "voucher_pg": bench_voucher_pg,
    "counter_pg": bench_counter_pg,
    "counter_sqlite": bench_counter_sqlite,
    "counter_quotes_pg": bench_counter_quotes_pg,
    "counter_quotes_sqlite": bench_counter_quotes_sqlite,
    "receipts": bench_receipts,
    "plans": bench_plans,
    "stores_pg": bench_stores_pg,
    "stores_sqlite": bench_stores_sqlite,
    "autorenew_pg": bench_autorenew_pg,
    "cashback_sqlite": bench_cashback_sqlite,
    "privacy_pg": bench_privacy_pg,
    "promotions_pg": bench_promotions_pg,
    "promotions_sqlite": bench_promotions_sqlite,
    "portal_quotes_sqlite": bench_portal_quotes,
    "ussd": bench_ussd,
    "sms_commands_sqlite": bench_sms_commands_sqlite, "sms_commands_pg": bench_sms_commands_pg,
    "voice_menu_sqlite": bench_voice_menu_sqlite, "voice_menu_pg": bench_voice_menu_pg,
    "voice_http_sqlite": bench_voice_http,
    "voice_prompts": bench_voice_prompts,
    "voice": bench_voice,
    "network_drift_sqlite": bench_network_drift_sqlite, "network_drift_pg": bench_network_drift_pg,
    "network_hlr": bench_network_hlr,
    "dashboard_pg": bench_dashboard_pg,
    "audit_pg": bench_audit_pg,
    "accounting_pg": bench_accounting_pg,
    "line_search_pg": bench_line_search_pg,
    "metrics_pg": bench_metrics_pg,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help=f"comma-separated subset of: {', '.join(BENCHMARKS)}")
    parser.add_argument("--quick", action="store_true", help="smaller databases and shorter runs")
    args = parser.parse_args()
    chosen = args.only.split(",") if args.only else list(BENCHMARKS)
    unknown = set(chosen) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    sizes = QUICK if args.quick else FULL
    started = time.perf_counter()
    try:
        for name in chosen:
            # Everything shares two cores: anything else running skews the figures, so say so.
            note(f"{name}: load average {os.getloadavg()[0]:.2f} at start")
            BENCHMARKS[name](sizes)
    finally:
        report("total_s", round(time.perf_counter() - started, 1), "s")
        print("\nsummary:\n" + "\n".join(RESULTS), flush=True)


if __name__ == "__main__":
    main()
