from pydantic import BaseModel


class HistoryOut(BaseModel):
    items: list[dict]
    next_before: str | None
