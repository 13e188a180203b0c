"""The card printer's CSV of a batch made from the command line, written while the batch is made.

The PINs exist in plaintext only in this file, so it must exist exactly when the batch does: the rows go, chunk by
chunk, into a hidden temporary file (mode 600) beside the final one; it is flushed to disk before the batch's
transaction commits and takes its name only after; anything failing before the commit deletes it. The final name is
never overwritten."""

from __future__ import annotations

import contextlib
import csv
import os
import tempfile
from pathlib import Path
from types import TracebackType
from typing import TextIO

from simkeep.core.errors import Conflict
from simkeep.voucher.export import CSV_HEADER, csv_rows
from simkeep.voucher.models import VoucherBatch
from simkeep.voucher.service import Card


class CardFileExists(Conflict):
    code, message = "voucher_file_exists", "The batch's file exists already; it is never overwritten."


def batch_file_name(batch: VoucherBatch) -> str:
    return f"batch-{batch.serial_from}-{batch.serial_to}.csv"


class CardFile:
    """with CardFile(folder) as out: out.open(name) once the batch is known, out.write(batch, cards) per chunk,
    out.sync() before the commit, out.publish() after it. Leaving the block with an error deletes the file unless it
    was published or the commit happened (then `pending` says where the PINs are)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.final: Path | None = None
        self.pending: Path | None = None  # the temporary file while it is not published
        self._out: TextIO | None = None
        self._committed = False

    def __enter__(self) -> CardFile:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if kind is not None and not self._committed:
            self.discard()

    def open(self, name: str) -> None:
        final = self.folder / name
        if final.exists():
            raise CardFileExists(f"{final} exists already; it is never overwritten. Nothing was made.")
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        descriptor, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=self.folder)  # mode 600
        self.final, self.pending = final, Path(temporary)
        self._out = os.fdopen(descriptor, "w", encoding="utf-8", newline="")
        csv.writer(self._out, lineterminator="\n").writerow(CSV_HEADER)

    @property
    def is_open(self) -> bool:
        return self._out is not None

    def write(self, batch: VoucherBatch, cards: list[Card], *, timezone: str) -> None:
        if self._out is None:
            raise RuntimeError("open the file first")
        csv.writer(self._out, lineterminator="\n").writerows(csv_rows(batch, cards, timezone=timezone))

    def sync(self) -> None:
        """On disk before the commit: a batch whose PINs were lost in a crash could never be printed."""
        if self._out is not None:
            self._out.flush()
            os.fsync(self._out.fileno())
            self._out.close()
            self._out = None

    def committed(self) -> None:
        """The batch exists now: from here on the file is never deleted, whatever fails."""
        self._committed = True

    def publish(self) -> Path:
        """Give the file its name, never replacing another (a hard link fails if the name is taken)."""
        if self.pending is None or self.final is None:
            raise RuntimeError("nothing to publish")
        try:
            os.link(self.pending, self.final)
        except FileExistsError:
            raise CardFileExists(f"{self.final} appeared while the batch was made; the PINs are in "
                                 f"{self.pending}") from None
        except OSError:  # a file system without hard links
            if self.final.exists():
                raise CardFileExists(f"{self.final} appeared while the batch was made; the PINs are in "
                                     f"{self.pending}") from None
            os.rename(self.pending, self.final)
        else:
            os.unlink(self.pending)
        self.pending = None
        with contextlib.suppress(OSError):  # the new name on disk too
            folder = os.open(self.folder, os.O_RDONLY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)
        return self.final

    def discard(self) -> None:
        if self._out is not None:
            with contextlib.suppress(OSError):
                self._out.close()
            self._out = None
        if self.pending is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.pending)
            self.pending = None
