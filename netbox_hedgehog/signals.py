"""Reactions to saves and deletes, where NetBox puts them (core/signals.py does the same for its
data sources): a model's save() writes its own row and nothing else.

* A fabric created: its first history rows (nothing -> its initial state, one per field), by the
  user of the request that created it.
* A resource saved or deleted (a form, the REST API, a bulk edit or delete, a script): the fabric's
  counts follow it at once and an in-sync fabric whose resources now differ goes out_of_sync
  (services.rollup), by the user who made the change. The resource's stored sync state is read
  (and its row locked) before the write, so the roll-up moves the counts from what was really
  stored. A resource deleted with its fabric changes nothing.

* An event rule changed: whether the plugin's events are listened to is decided again
  (services.events caches it for a few seconds).

A connection test after new connection settings is not a reaction to a save: the code that edits
asks for it (jobs.request_test_after_edit), so that a script saving a fabric gets no test it did
not ask for.
"""

from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete, pre_save
from django.dispatch import receiver
from extras.models import EventRule

from . import jobs
from .choices import TriggerChoices
from .models import GitRepository, HedgehogFabric, HedgehogResource
from .services import events, rollup
from .services import git as git_service
from .services.state import acting_user, record_creation, transitioned
from .state import machine as m


@receiver(post_save, sender=HedgehogFabric, dispatch_uid="netbox_hedgehog_fabric_created")
def fabric_created(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        record_creation(instance)


@receiver(post_save, sender=GitRepository, dispatch_uid="netbox_hedgehog_gitrepository_created")
def repository_created(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        git_service.record_creation(instance)


def _stored_sync_state(resource):
    if resource.pk is None or resource._state.adding:
        return None
    return (
        HedgehogResource.objects.select_for_update()
        .filter(pk=resource.pk)
        .values_list("sync_state", flat=True)
        .first()
    )


@receiver(pre_save, sender=HedgehogResource, dispatch_uid="netbox_hedgehog_resource_before_save")
def resource_before_save(sender, instance, raw=False, **kwargs):
    if not raw:
        instance._stored_sync_state = _stored_sync_state(instance)


@receiver(post_save, sender=HedgehogResource, dispatch_uid="netbox_hedgehog_resource_saved")
def resource_saved(sender, instance, raw=False, **kwargs):
    if not raw:
        before = getattr(instance, "_stored_sync_state", None)
        rollup.resource_changed(instance.fabric_id, before, instance.sync_state, user=acting_user())


@receiver(pre_delete, sender=HedgehogResource, dispatch_uid="netbox_hedgehog_resource_before_delete")
def resource_before_delete(sender, instance, origin=None, **kwargs):
    if not isinstance(origin, HedgehogFabric):
        instance._stored_sync_state = _stored_sync_state(instance)


@receiver(post_delete, sender=HedgehogResource, dispatch_uid="netbox_hedgehog_resource_deleted")
def resource_deleted(sender, instance, origin=None, **kwargs):
    if isinstance(origin, HedgehogFabric):
        return  # deleted with its fabric
    before = getattr(instance, "_stored_sync_state", instance.sync_state)
    rollup.resource_changed(instance.fabric_id, before, None, user=acting_user())


@receiver(post_save, sender=EventRule, dispatch_uid="netbox_hedgehog_event_rule_saved")
@receiver(post_delete, sender=EventRule, dispatch_uid="netbox_hedgehog_event_rule_deleted")
@receiver(m2m_changed, sender=EventRule.object_types.through, dispatch_uid="netbox_hedgehog_event_rule_types")
def event_rule_changed(sender, **kwargs):
    events.forget_rules()


@receiver(transitioned, dispatch_uid="netbox_hedgehog_transitioned")
def fabric_transitioned(sender, fabric, rows, user=None, **kwargs):
    """What a transition means beyond the state, once it is committed:

    * decommissioned (final): the fabric's pending and scheduled jobs are cancelled and its
      credentials cleared (jobs.retire);
    * maintenance ended (back to active): the connection is tested again, as new settings saved
      during maintenance were not tested;
    * drift found by the watch: an automatic reconciliation when the fabric asks for one (a sync
      that finds drift asks itself, when it ends: jobs.FabricSyncJob).
    """
    for row in rows:
        if (row.field, row.new) == (m.STATUS, m.DECOMMISSIONED):
            transaction.on_commit(lambda: jobs.retire(fabric))
        elif (row.field, row.previous, row.new) == (
            m.STATUS,
            m.MAINTENANCE,
            m.ACTIVE,
        ) and fabric.has_credentials:
            transaction.on_commit(lambda: _retest_after_maintenance(fabric, user))
        elif (row.field, row.new, row.trigger) == (m.SYNC, m.OUT_OF_SYNC, TriggerChoices.WATCH):
            transaction.on_commit(lambda: jobs.auto_reconcile(fabric))


def _retest_after_maintenance(fabric, user):
    try:
        jobs.request_test(fabric, user=user, reason="Maintenance ended: testing the connection")
    except jobs.InvalidTransition:
        pass  # decommissioned meanwhile: nothing to test
