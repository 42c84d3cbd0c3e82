"""syncCourseEnrollments: enrolments to a learning system by API, or as a CSV file in the
provider's import layout when the tenant has no API access, asked for a file, or the API is
unavailable (the run then writes the rest of its records to the file and says why). A file
run is recorded like any other; its file is downloaded at GET .../runs/<id>/export.csv."""
from __future__ import annotations

import csv
import io
import logging
from types import ModuleType

from adapters.errors import ProviderError
from adapters.sync_types import Document
from sync.connectors.lms import ADAPTERS, LmsConnector, has_api_credentials
from sync.models import LmsIntegration, SyncExport, SyncRun
from sync.services.engine import Progress, Sink, run_kinds
from sync.services.execute import remote_id_lookup
from sync.services.kinds import Context

logger = logging.getLogger(__name__)


class CsvFile:
    """Rows in the provider's layout, written as they come; the text is stored when done."""

    def __init__(self, adapter: ModuleType, run: SyncRun, reason: str) -> None:
        self.adapter, self.run, self.reason = adapter, run, reason
        self.buffer = io.StringIO()
        if getattr(adapter, "CSV_DELIMITER", ",") == ";":
            self.buffer.write("\ufeff")  # spreadsheet imports in Swedish locales expect the BOM
        self.writer = csv.writer(self.buffer, delimiter=getattr(adapter, "CSV_DELIMITER", ","), lineterminator="\r\n")
        self.writer.writerow(adapter.CSV_COLUMNS)
        self.rows = 0

    def write(self, record_type: str, document: Document) -> str:
        self.writer.writerow(self.adapter.csv_row(document))
        self.rows += 1
        return f"csv:{self.run.pk}"

    def save(self) -> SyncExport:
        integration = self.run.integration
        filename = f"{integration.provider}-enrollments-{self.run.created_at:%Y%m%d-%H%M%S}.csv"
        export, _ = SyncExport.objects.update_or_create(run=self.run, defaults={
            "tenant_id": self.run.tenant_id, "layout": self.adapter.CSV_LAYOUT, "filename": filename,
            "rows": self.rows, "content": self.buffer.getvalue(), "reason": self.reason[:300]})
        return export


def _learner_id(integration: LmsIntegration):
    def learner_id(member) -> str:
        if integration.learner_id_field == LmsIntegration.LearnerId.EXTERNAL_ID:
            return member.external_id
        if integration.learner_id_field == LmsIntegration.LearnerId.MEMBER_ID:
            return str(member.pk)
        return member.email
    return learner_id


def sync_enrollments(*, run: SyncRun, integration: LmsIntegration, progress: Progress) -> None:
    adapter = ADAPTERS[integration.provider]
    mapping = dict(integration.course_mapping or {})
    context = Context(mapping={}, remote_id_of=remote_id_lookup(run), learner_id=_learner_id(integration),
                      course_id=mapping.get)
    reason = _csv_reason(run, integration)
    if reason:
        csv_file = CsvFile(adapter, run, reason)
        run_kinds(run=run, record_types=("enrollment",), context=context, progress=progress,
                  sink=Sink(write_row=csv_file.write))
        csv_file.save()
        return
    connector = LmsConnector(integration)
    fallback: dict[str, CsvFile] = {}

    def switch_to_csv(error: ProviderError) -> Sink | None:
        if not integration.csv_fallback:
            return None
        logger.warning("learning system API unavailable; writing the import file instead",
                       extra={"run_id": str(run.pk), "provider": integration.provider})
        fallback["file"] = CsvFile(adapter, run, f"the API was unavailable: {error}")
        return Sink(write_row=fallback["file"].write)

    try:
        run_kinds(run=run, record_types=("enrollment",), context=context, progress=progress,
                  sink=Sink(connector=connector), switch_to_csv=switch_to_csv)
    finally:
        connector.close()
        if "file" in fallback:
            fallback["file"].save()


def _csv_reason(run: SyncRun, integration: LmsIntegration) -> str:
    if run.mode == "csv":
        return "a CSV export was requested"
    if integration.delivery == LmsIntegration.Delivery.CSV:
        return "the integration delivers by import file"
    if not has_api_credentials(integration):
        return "the organisation has no API access configured"
    return ""
