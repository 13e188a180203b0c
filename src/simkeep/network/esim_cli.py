"""`simkeep esim …`: eSIM profiles from the SM-DP+ provider's file, and what is in stock."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from simkeep.catalog import service as catalog
from simkeep.config import get_settings
from simkeep.core import clock
from simkeep.core.errors import EsimImportRefused, SimkeepError
from simkeep.network import esim
from simkeep.terminal import console, database, err, fail

app = typer.Typer(help="eSIM profiles (SGP.22 activation codes).", no_args_is_help=True)


@app.command("import")
def import_file(file: Path, operator: Annotated[str, typer.Option(help="operator id, see `catalog show`")],
                profile: Annotated[str, typer.Option(help="the operator's name for this profile batch")] = "esim") -> None:
    """Import a provider's CSV (iccid, imsi, smdp_address, matching_id[, smdp_oid, confirmation_code_required]),
    all or nothing: any bad row refuses the file with its line numbers."""
    try:
        key = esim.seal_key(get_settings())
        with database().transaction() as session:
            count = esim.import_profiles(session, text=file.read_text("utf-8"),
                                         operator=catalog.get_operator(session, operator), profile=profile,
                                         import_ref=file.name, key=key, actor="cli", now=clock.now())
    except EsimImportRefused as exc:
        for problem in exc.problems:
            err.print(problem, markup=False)
        fail(exc)
    except SimkeepError as exc:
        fail(exc)
    console.print(f"{count} eSIM profiles of {operator} in stock from {file.name}")


@app.command("stock")
def stock(operator: Annotated[str, typer.Option(help="operator id")]) -> None:
    """How many eSIM profiles of the operator wait in stock."""
    with database().transaction(write=False) as session:
        console.print(f"{esim.in_stock(session, operator)} eSIM profiles of {operator} in stock")
