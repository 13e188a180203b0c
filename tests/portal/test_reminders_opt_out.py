import json
import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from simkeep.main import create_app
from simkeep.notification.models import OutboxMessage
from simkeep.notification.senders import make_sender
from simkeep.notification.tasks import deliver_due
from tests.factories.lines import make_line, view
from tests.factories.payments import now


def test_a_subscriber_stops_and_resumes_reminders_from_the_status_page(db, settings):
    cfg = settings
    make_line(db, now=now())
    with TestClient(create_app(cfg, db), follow_redirects=False) as client:
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/signin").text).group(1)
        client.post("/signin", data={"msisdn": "+33612345678", "csrf_token": token})
        deliver_due(db, make_sender(cfg, db))
        code = json.loads((cfg.messages_log).read_text().splitlines()[-1])["payload"]["code"]
        client.post("/signin/code", data={"code": code, "csrf_token": token})
        assert "Stop reminders for this line" in client.get("/lines").text
        client.post("/lines/reminders", data={"msisdn": "+33612345678", "wanted": "off", "csrf_token": token})
        assert view(db).line.reminders_opted_out_at is not None
        assert "Reminders are off for this line." in client.get("/lines").text
        with db.transaction(write=False) as session:
            [confirmation] = session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "reminders.stopped"))
        assert confirmation.recipient == "+33612345678"
        client.post("/lines/reminders", data={"msisdn": "+33612345678", "wanted": "on", "csrf_token": token})
        assert view(db).line.reminders_opted_out_at is None
        # Someone else's number cannot be switched off from this browser.
        make_line(db, msisdn="+33698765432", now=now())
        client.post("/lines/reminders", data={"msisdn": "+33698765432", "wanted": "off", "csrf_token": token})
        assert view(db, "+33698765432").line.reminders_opted_out_at is None
