"""Members, courts and devices: /api/v1/iot/{members,courts,devices}/ (CRUD)."""
from __future__ import annotations

import re

import phonenumbers
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from config.api import StrictModelSerializer
from iot import selectors
from iot.apis.common import IotApi, PageQuery, tenant_court_field
from iot.models import Court, Device, DeviceKind, DeviceStatus, Member
from iot.services import registry

_EXTERNAL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,99}")
_CARD = re.compile(r"[A-Za-z0-9:-]{1,64}")


class MemberInput(StrictModelSerializer):
    credits = serializers.IntegerField(min_value=0, max_value=1_000_000, required=False)
    idempotency_key = serializers.CharField(max_length=255, required=False, write_only=True)

    class Meta:
        model = Member
        fields = ["external_id", "first_name", "last_name", "email", "phone", "rfid_card_id", "is_active",
                  "credits", "membership_type", "membership_valid_until", "idempotency_key"]

    def validate_external_id(self, value: str) -> str:
        if value and not _EXTERNAL_ID.fullmatch(value):
            raise serializers.ValidationError("1-100 letters, digits or . _ : @ -")
        return value

    def validate_rfid_card_id(self, value: str) -> str:
        if value and not _CARD.fullmatch(value):
            raise serializers.ValidationError("1-64 letters, digits, : or - (the card's UID as the reader reports it)")
        return value.upper()

    def validate_phone(self, value: str) -> str:
        if not value:
            return value
        try:
            number = phonenumbers.parse(value, None)
        except phonenumbers.NumberParseException:
            raise serializers.ValidationError("an international number starting with + and the country code") from None
        if not phonenumbers.is_valid_number(number):
            raise serializers.ValidationError("not a valid phone number")
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    def validate_first_name(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("may not be blank")
        return value.strip()


class MemberOutput(serializers.ModelSerializer):
    class Meta:
        model = Member
        fields = ["id", "external_id", "first_name", "last_name", "email", "phone", "rfid_card_id", "is_active",
                  "credits", "membership_type", "membership_valid_until", "created_at", "updated_at"]


class MemberQuery(PageQuery):
    is_active = serializers.BooleanField(required=False)
    search = serializers.CharField(required=False, max_length=100)


def _fields(data) -> dict:
    return {name: value for name, value in data.validated_data.items() if name != "idempotency_key"}


class MemberListCreateApi(IotApi):
    @extend_schema(parameters=[MemberQuery], responses=MemberOutput(many=True))
    def get(self, request):
        return self.paginate(selectors.member_list(tenant=self.tenant, filters=self.filters(MemberQuery)), MemberOutput)

    @extend_schema(request=MemberInput, responses={201: MemberOutput})
    def post(self, request):
        def write():
            data = MemberInput(data=request.data)
            data.is_valid(raise_exception=True)
            return registry.member_create(tenant=self.tenant, data=_fields(data), actor=self.actor)

        return self.create_idempotently(scope="members", write=write, output=MemberOutput)


class MemberDetailApi(IotApi):
    @extend_schema(responses=MemberOutput)
    def get(self, request, pk):
        return Response(MemberOutput(selectors.member_get(tenant=self.tenant, member_id=pk)).data)

    @extend_schema(request=MemberInput, responses=MemberOutput)
    def patch(self, request, pk):
        member = selectors.member_get(tenant=self.tenant, member_id=pk)
        data = MemberInput(member, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        return Response(MemberOutput(registry.member_update(member=member, data=_fields(data), actor=self.actor)).data)

    def delete(self, request, pk):
        registry.registry_delete(instance=selectors.member_get(tenant=self.tenant, member_id=pk), actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CourtInput(StrictModelSerializer):
    idempotency_key = serializers.CharField(max_length=255, required=False, write_only=True)

    class Meta:
        model = Court
        fields = ["code", "name", "ziggy_court_id", "is_active", "idempotency_key"]

    def validate_ziggy_court_id(self, value: str) -> str:
        if value and not _EXTERNAL_ID.fullmatch(value):
            raise serializers.ValidationError("1-100 letters, digits or . _ : @ -")
        return value


class CourtOutput(serializers.ModelSerializer):
    class Meta:
        model = Court
        fields = ["id", "code", "name", "ziggy_court_id", "is_active", "created_at", "updated_at"]


class CourtListCreateApi(IotApi):
    @extend_schema(parameters=[PageQuery], responses=CourtOutput(many=True))
    def get(self, request):
        self.filters(PageQuery)
        return self.paginate(selectors.court_list(tenant=self.tenant), CourtOutput)

    @extend_schema(request=CourtInput, responses={201: CourtOutput})
    def post(self, request):
        def write():
            data = CourtInput(data=request.data)
            data.is_valid(raise_exception=True)
            return registry.court_create(tenant=self.tenant, data=_fields(data), actor=self.actor)

        return self.create_idempotently(scope="courts", write=write, output=CourtOutput)


class CourtDetailApi(IotApi):
    @extend_schema(responses=CourtOutput)
    def get(self, request, pk):
        return Response(CourtOutput(selectors.court_get(tenant=self.tenant, court_id=pk)).data)

    @extend_schema(request=CourtInput, responses=CourtOutput)
    def patch(self, request, pk):
        court = selectors.court_get(tenant=self.tenant, court_id=pk)
        data = CourtInput(court, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        return Response(CourtOutput(registry.court_update(court=court, data=_fields(data), actor=self.actor)).data)

    def delete(self, request, pk):
        registry.registry_delete(instance=selectors.court_get(tenant=self.tenant, court_id=pk), actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


class DeviceInput(StrictModelSerializer):
    response_timeout_ms = serializers.IntegerField(min_value=500, max_value=30_000, required=False)
    idempotency_key = serializers.CharField(max_length=255, required=False, write_only=True)

    class Meta:
        model = Device
        fields = ["kind", "external_id", "name", "court", "response_timeout_ms", "idempotency_key"]

    def get_fields(self):
        fields = super().get_fields()
        fields["court"] = tenant_court_field(required=False, allow_null=True)
        return fields

    def validate_external_id(self, value: str) -> str:
        # The id appears as a topic level, so it follows the topic rules (iot/topics.py).
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,99}", value):
            raise serializers.ValidationError("1-100 letters, digits or . _ : - (it is used in MQTT topics)")
        return value


class DeviceOutput(serializers.ModelSerializer):
    court_code = serializers.CharField(source="court.code", default=None, read_only=True)

    class Meta:
        model = Device
        fields = ["id", "kind", "external_id", "name", "court", "court_code", "status", "last_seen_at",
                  "battery_percent", "firmware_version", "response_timeout_ms", "created_at", "updated_at"]


class DeviceQuery(PageQuery):
    kind = serializers.ChoiceField(choices=DeviceKind.choices, required=False)
    status = serializers.ChoiceField(choices=DeviceStatus.choices, required=False)
    court = serializers.UUIDField(required=False)


class DeviceListCreateApi(IotApi):
    @extend_schema(parameters=[DeviceQuery], responses=DeviceOutput(many=True))
    def get(self, request):
        return self.paginate(selectors.device_list(tenant=self.tenant, filters=self.filters(DeviceQuery)),
                             DeviceOutput)

    @extend_schema(request=DeviceInput, responses={201: DeviceOutput})
    def post(self, request):
        def write():
            data = DeviceInput(data=request.data, context={"tenant": self.tenant})
            data.is_valid(raise_exception=True)
            return registry.device_create(tenant=self.tenant, data=_fields(data), actor=self.actor)

        return self.create_idempotently(scope="devices", write=write, output=DeviceOutput)


class DeviceDetailApi(IotApi):
    @extend_schema(responses=DeviceOutput)
    def get(self, request, pk):
        return Response(DeviceOutput(selectors.device_get(tenant=self.tenant, device_id=pk)).data)

    @extend_schema(request=DeviceInput, responses=DeviceOutput)
    def patch(self, request, pk):
        device = selectors.device_get(tenant=self.tenant, device_id=pk)
        data = DeviceInput(device, data=request.data, partial=True, context={"tenant": self.tenant})
        data.is_valid(raise_exception=True)
        return Response(DeviceOutput(registry.device_update(device=device, data=_fields(data), actor=self.actor)).data)

    def delete(self, request, pk):
        registry.registry_delete(instance=selectors.device_get(tenant=self.tenant, device_id=pk), actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)
