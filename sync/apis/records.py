"""The hub's own records a sync pushes, at /api/v1/sync/<collection>/: invoices (with lines),
payments, expenses, reimbursements (approve/), course enrolments. Each record's detail
shows where it was synchronised (the sync log)."""
from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.response import Response

from config.api import StrictSerializer
from config.idempotency import idempotent
from integrations.families.accounting import ACCOUNT_CATEGORIES
from integrations.families.validators import normalise_currency
from sync.apis.runs import SyncApi
from sync.models import CourseEnrollment, EnrollmentStatus, Expense, Invoice, InvoicePayment, Reimbursement
from sync.selectors import record_get, record_list, sync_log_for_record
from sync.services import records as services

_MONEY = {"max_digits": 14, "decimal_places": 2}
_REFERENCE = r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,39}$"
RECORD_TYPES = {"invoices": "invoice", "payments": "payment", "expenses": "expense",
                "reimbursements": "reimbursement", "enrollments": "enrollment"}


def _category(value: str) -> str:
    if value not in ACCOUNT_CATEGORIES:
        raise serializers.ValidationError("unknown category; known: " + ", ".join(sorted(ACCOUNT_CATEGORIES)))
    return value


class CurrencyField(serializers.CharField):
    def __init__(self, **kwargs):
        super().__init__(max_length=3, min_length=3, **kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        try:
            return normalise_currency(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None


class VatRateField(serializers.DecimalField):
    def __init__(self, **kwargs):
        super().__init__(max_digits=5, decimal_places=2, min_value=Decimal("0"), max_value=Decimal("100"), **kwargs)


class InvoiceLineInput(StrictSerializer):
    description = serializers.CharField(max_length=300)
    category = serializers.CharField(max_length=40, validators=[_category])
    quantity = serializers.DecimalField(max_digits=12, decimal_places=3, min_value=Decimal("0.001"))
    unit_price = serializers.DecimalField(**_MONEY, min_value=Decimal("0"))
    vat_rate = VatRateField()


class InvoiceInput(StrictSerializer):
    number = serializers.RegexField(_REFERENCE)
    customer_number = serializers.CharField(max_length=40)
    customer_name = serializers.CharField(max_length=200)
    customer_email = serializers.EmailField(required=False, allow_blank=True)
    customer_organisation_number = serializers.CharField(max_length=40, required=False, allow_blank=True)
    issue_date = serializers.DateField()
    due_date = serializers.DateField()
    currency = CurrencyField()
    lines = InvoiceLineInput(many=True, allow_empty=False, max_length=500)

    def validate(self, attrs):
        if attrs["due_date"] < attrs["issue_date"]:
            raise serializers.ValidationError({"due_date": ["must not be before issue_date"]})
        return attrs


class PaymentInput(StrictSerializer):
    reference = serializers.RegexField(_REFERENCE)
    invoice_id = serializers.UUIDField()
    amount = serializers.DecimalField(**_MONEY, min_value=Decimal("0.01"))
    currency = CurrencyField()
    paid_on = serializers.DateField()


class ExpenseInput(StrictSerializer):
    reference = serializers.RegexField(_REFERENCE)
    description = serializers.CharField(max_length=300)
    category = serializers.CharField(max_length=40, validators=[_category])
    amount = serializers.DecimalField(**_MONEY, min_value=Decimal("0.01"))
    vat_rate = VatRateField(required=False, default=Decimal("0"))
    currency = CurrencyField()
    incurred_on = serializers.DateField()
    payee_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    payee_number = serializers.CharField(max_length=40, required=False, allow_blank=True)


class ReimbursementInput(ExpenseInput):
    member_id = serializers.UUIDField(required=False)
    payee_name = serializers.CharField(max_length=200)


class EnrollmentInput(StrictSerializer):
    member_id = serializers.UUIDField()
    course_code = serializers.RegexField(r"^[\w.-]{1,60}$")
    course_title = serializers.CharField(max_length=200)
    status = serializers.ChoiceField(choices=EnrollmentStatus.choices, required=False, default="enrolled")
    enrolled_on = serializers.DateField()
    completed_on = serializers.DateField(required=False, allow_null=True)

    def validate(self, attrs):
        if attrs.get("status") == "completed" and not attrs.get("completed_on"):
            raise serializers.ValidationError({"completed_on": ["required when status is completed"]})
        return attrs


@lru_cache(maxsize=None)
def _output(model):
    class Output(serializers.ModelSerializer):
        sync = serializers.SerializerMethodField()

        class Meta:
            fields = [f.name for f in model._meta.concrete_fields if f.name != "tenant"] + ["sync"]

        def get_sync(self, obj) -> list[dict]:
            if not self.context.get("detail"):
                return []
            return list(sync_log_for_record(tenant=obj.tenant, record_type=self.context["record_type"],
                                            record_id=obj.pk)
                        .values("integration_id", "state", "remote_id", "synced_at", "remote_updated_at",
                                "last_error"))

    Output.Meta.model = model
    Output.__name__ = f"{model.__name__}Output"
    return Output


class InvoiceLineOutput(serializers.Serializer):
    position = serializers.IntegerField()
    description = serializers.CharField()
    category = serializers.CharField()
    quantity = serializers.DecimalField(max_digits=12, decimal_places=3)
    unit_price = serializers.DecimalField(**_MONEY)
    vat_rate = serializers.DecimalField(max_digits=5, decimal_places=2)


class InvoiceOutput(_output(Invoice)):
    lines = InvoiceLineOutput(many=True, read_only=True)

    class Meta(_output(Invoice).Meta):
        model = Invoice
        fields = _output(Invoice).Meta.fields + ["lines"]


COLLECTIONS = {
    "invoices": (InvoiceInput, InvoiceOutput, services.invoice_create),
    "payments": (PaymentInput, _output(InvoicePayment), services.payment_create),
    "expenses": (ExpenseInput, _output(Expense), services.expense_create),
    "reimbursements": (ReimbursementInput, _output(Reimbursement), services.reimbursement_create),
    "enrollments": (EnrollmentInput, _output(CourseEnrollment), services.enrollment_create),
}


class RecordListCreateApi(SyncApi):
    collection: str = ""

    class RecordPageSerializer(StrictSerializer):
        cursor = serializers.CharField(required=False)
        page_size = serializers.IntegerField(required=False, min_value=1, max_value=200)

    def get(self, request):
        self.RecordPageSerializer(data=request.query_params.dict()).is_valid(raise_exception=True)
        output = COLLECTIONS[self.collection][1]
        queryset = record_list(tenant=self.tenant, collection=self.collection)
        if self.collection == "invoices":
            queryset = queryset.prefetch_related("lines")
        return self.paginate(queryset, output)

    def post(self, request):
        input_class, output, create = COLLECTIONS[self.collection]

        def handler() -> Response:
            body = input_class(data=request.data)
            body.is_valid(raise_exception=True)
            data = {k: v for k, v in body.validated_data.items() if k != "idempotency_key"}
            if "lines" in data:
                data["lines"] = [dict(line) for line in data["lines"]]
            record = create(tenant=self.tenant, data=data, actor=self.actor)
            return Response(output(record, context={"detail": True, "record_type": RECORD_TYPES[self.collection]}).data,
                            status=status.HTTP_201_CREATED)

        return idempotent(request, scope=f"sync:{self.collection}:create", tenant=self.tenant, handler=handler)


class RecordDetailApi(SyncApi):
    collection: str = ""

    def get(self, request, pk):
        record = record_get(tenant=self.tenant, collection=self.collection, record_id=pk)
        output = COLLECTIONS[self.collection][1]
        return Response(output(record, context={"detail": True, "record_type": RECORD_TYPES[self.collection]}).data)


def collection_views(collection: str) -> tuple[type, type]:
    """The list/create and detail views of one collection, with its serializers in the schema."""
    input_class, output, _ = COLLECTIONS[collection]
    name = collection.capitalize()
    listing = extend_schema_view(get=extend_schema(responses=output(many=True)),
                                 post=extend_schema(request=input_class, responses={201: output}))(
        type(f"{name}ListCreateApi", (RecordListCreateApi,), {"collection": collection}))
    detail = extend_schema_view(get=extend_schema(responses=output))(
        type(f"{name}DetailApi", (RecordDetailApi,), {"collection": collection}))
    return listing, detail


class ReimbursementApproveApi(SyncApi):
    @extend_schema(request=None, responses=_output(Reimbursement))
    def post(self, request, pk):
        record = record_get(tenant=self.tenant, collection="reimbursements", record_id=pk)
        approved = services.reimbursement_approve(reimbursement=record, actor=self.actor)
        return Response(_output(Reimbursement)(approved, context={"detail": True,
                                                                  "record_type": "reimbursement"}).data)
