from .configs import CrmIntegration, ErpIntegration, LmsIntegration, ThirdPartyProvider
from .records import (
    CourseEnrollment,
    EnrollmentStatus,
    Expense,
    Invoice,
    InvoiceLine,
    InvoicePayment,
    Reimbursement,
)
from .runs import (
    ACTIVE_RUN_STATES,
    FINISHED_RUN_STATES,
    LogState,
    RunState,
    RunTrigger,
    SyncConflict,
    SyncExport,
    SyncLogEntry,
    SyncRecordError,
    SyncRun,
    SyncSchedule,
)

__all__ = [
    "ACTIVE_RUN_STATES", "FINISHED_RUN_STATES", "CourseEnrollment", "CrmIntegration", "EnrollmentStatus",
    "ErpIntegration", "Expense", "Invoice", "InvoiceLine", "InvoicePayment", "LmsIntegration", "LogState",
    "Reimbursement", "RunState", "RunTrigger", "SyncConflict", "SyncExport", "SyncLogEntry", "SyncRecordError",
    "SyncRun", "SyncSchedule", "ThirdPartyProvider",
]
