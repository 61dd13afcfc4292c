from django.utils.translation import gettext as _
from netbox.api.fields import ChoiceField
from netbox.api.serializers import BaseModelSerializer, NetBoxModelSerializer
from rest_framework import serializers, status
from rest_framework.exceptions import APIException
from users.api.serializers_.users import UserSerializer

from ..choices import (
    ConnectionStatusChoices,
    FabricStatusChoices,
    RequiredActionChoices,
    StateFieldChoices,
    SyncStatusChoices,
    TriggerChoices,
)
from ..models import HedgehogFabric, StateTransition
from ..models.fabric import STATE_OWNED_FIELDS
from ..state import machine

__all__ = (
    "HedgehogFabricSerializer",
    "StateTransitionSerializer",
    "TransitionRefused",
    "TransitionRequestSerializer",
)


class TransitionRefused(APIException):
    """409: the transition table or a consistency rule refuses the change; nothing was written."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "transition_refused"

    def __init__(self, exc):
        super().__init__()
        self.detail = {
            "detail": exc.message,
            "code": exc.code,
            "field": exc.field,
            "current": exc.current,
            "requested": exc.requested,
            "allowed": list(exc.allowed),
        }


# What sets each state-owned field; a client that tries to write one is told.
SET_BY = {
    "connection_status": _(
        "Read-only: set by connection tests (POST /api/plugins/hedgehog/fabrics/{id}/test-connection/)."
    ),
    "sync_status": _("Read-only: set by syncs (POST /api/plugins/hedgehog/fabrics/{id}/sync/)."),
}
DEFAULT_SET_BY = _("Read-only: kept by the state service together with the state fields.")


class HedgehogFabricSerializer(NetBoxModelSerializer):
    status = ChoiceField(
        choices=FabricStatusChoices,
        required=False,
        help_text=_(
            "Lifecycle. A change goes through the transition table; POST .../transition/ does the same "
            "with a reason."
        ),
    )
    connection_status = ChoiceField(choices=ConnectionStatusChoices, read_only=True)
    sync_status = ChoiceField(choices=SyncStatusChoices, read_only=True)
    required_action = ChoiceField(choices=RequiredActionChoices, read_only=True)
    state_problems = serializers.SerializerMethodField(
        help_text=_("Consistency problems of the stored state; empty when consistent")
    )
    available_transitions = serializers.SerializerMethodField(
        help_text=_("The lifecycle states the fabric may move to now")
    )

    class Meta:
        model = HedgehogFabric
        fields = (
            "id",
            "url",
            "display_url",
            "display",
            "name",
            "description",
            "status",
            "status_changed",
            "connection_status",
            "connection_status_changed",
            "last_validated",
            "connection_error",
            "sync_status",
            "sync_status_changed",
            "last_sync",
            "sync_error",
            "required_action",
            "state_problems",
            "available_transitions",
            "comments",
            "tags",
            "custom_fields",
            "created",
            "last_updated",
        )
        read_only_fields = tuple(f for f in STATE_OWNED_FIELDS if f != "status")
        brief_fields = ("id", "url", "display", "name", "description", "status")

    def get_state_problems(self, obj) -> list[str]:
        return [message for _, message in obj.state_problems]

    def get_available_transitions(self, obj) -> list[str]:
        return list(obj.available_transitions())

    def validate(self, data):
        errors = {
            name: SET_BY.get(name, DEFAULT_SET_BY)
            for name in STATE_OWNED_FIELDS
            if name != "status" and name in self.initial_data
        }
        if errors:
            raise serializers.ValidationError(errors)
        requested = data.get("status")
        if self.instance is None and requested is not None:
            reachable = (machine.INITIAL[machine.STATUS],) + machine.allowed_transitions(
                machine.STATUS, machine.INITIAL[machine.STATUS]
            )
            if requested not in reachable:
                raise serializers.ValidationError(
                    {
                        "status": _(
                            "A new fabric starts {initial}; it can be created as: {reachable}."
                        ).format(initial=machine.INITIAL[machine.STATUS], reachable=", ".join(reachable))
                    }
                )
        return super().validate(data)

    def create(self, validated_data):
        requested = validated_data.pop("status", None)
        instance = super().create(validated_data)
        self._apply_status(instance, requested)
        return instance

    def update(self, instance, validated_data):
        requested = validated_data.pop("status", None)
        instance = super().update(instance, validated_data)
        self._apply_status(instance, requested)
        return instance

    def _apply_status(self, instance, requested):
        """A lifecycle change requested in a create or update goes through the state service."""
        from ..state import InvalidTransition, transition

        if requested is None or requested == instance.status:
            return
        request = self.context.get("request")
        try:
            transition(instance, machine.STATUS, requested, user=getattr(request, "user", None))
        except InvalidTransition as exc:
            raise TransitionRefused(exc) from None


class StateTransitionSerializer(BaseModelSerializer):
    url = serializers.HyperlinkedIdentityField(
        view_name="plugins-api:netbox_hedgehog-api:statetransition-detail"
    )
    fabric = HedgehogFabricSerializer(nested=True, read_only=True)
    field = ChoiceField(choices=StateFieldChoices, read_only=True)
    trigger = ChoiceField(choices=TriggerChoices, read_only=True)
    user = UserSerializer(nested=True, read_only=True)
    job_id = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = StateTransition
        fields = (
            "id",
            "url",
            "display",
            "fabric",
            "field",
            "previous",
            "new",
            "trigger",
            "reason",
            "user",
            "job_id",
            "time",
        )
        read_only_fields = fields
        brief_fields = ("id", "url", "display", "field", "previous", "new", "time")


class TransitionRequestSerializer(serializers.Serializer):
    status = serializers.CharField(help_text=_("The target lifecycle state"))
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=1000)

    def validate_status(self, value):
        if value not in machine.VALUES[machine.STATUS]:
            raise serializers.ValidationError(
                _("Unknown status {value!r}; expected one of: {values}.").format(
                    value=value, values=", ".join(machine.VALUES[machine.STATUS])
                )
            )
        return value
