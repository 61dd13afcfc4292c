"""Views of git repositories: list, detail (its connection, its history, the fabrics that use it),
add, edit, delete, and the "Test connection" button (a background job: jobs.request_git_test)."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext_lazy as _
from extras.ui.panels import CustomFieldsPanel, TagsPanel
from netbox.ui import attrs, layout, panels
from netbox.ui.panels import CommentsPanel
from netbox.views import generic
from netbox.views.generic.base import BaseObjectView
from redis.exceptions import RedisError
from utilities.views import GetReturnURLMixin, register_model_view

from . import filtersets, forms, tables
from .jobs import request_git_test
from .models import GitRepository
from .services.state import InvalidTransition
from .views import QUEUE_DOWN, job_message


class GitRepositoryPanel(panels.ObjectAttributesPanel):
    title = _("Git repository")
    name = attrs.TextAttr("name")
    description = attrs.TextAttr("description")
    remote_url = attrs.TextAttr("remote_url", label=_("URL"), style="font-monospace")
    branch = attrs.TextAttr("branch", style="font-monospace")
    username = attrs.TextAttr("username")


class GitConnectionPanel(panels.ObjectPanel):
    """Connection status, why, the head commit last seen, the credentials (only whether they are
    stored) and the Test connection button for those allowed to test."""

    template_name = "netbox_hedgehog/panels/git_connection.html"
    title = _("Connection")

    def get_context(self, context):
        ctx = super().get_context(context)
        repository = ctx["object"]
        ctx["may_test"] = ctx["request"].user.has_perm(
            "netbox_hedgehog.test_connection_gitrepository", obj=repository
        )
        ctx["history"] = repository.transitions.select_related("user", "job")[:20]
        ctx["fabrics"] = repository.fabrics.all() if hasattr(repository, "fabrics") else []
        return ctx


@register_model_view(GitRepository, "list", path="", detail=False)
class GitRepositoryListView(generic.ObjectListView):
    queryset = GitRepository.objects.prefetch_related("tags")
    filterset = filtersets.GitRepositoryFilterSet
    filterset_form = forms.GitRepositoryFilterForm
    table = tables.GitRepositoryTable


@register_model_view(GitRepository)
class GitRepositoryView(generic.ObjectView):
    queryset = GitRepository.objects.all()
    template_name = "generic/object.html"
    layout = layout.SimpleLayout(
        left_panels=[GitRepositoryPanel(), TagsPanel(), CommentsPanel()],
        right_panels=[GitConnectionPanel(), CustomFieldsPanel()],
    )


@register_model_view(GitRepository, "add", detail=False)
@register_model_view(GitRepository, "edit")
class GitRepositoryEditView(generic.ObjectEditView):
    queryset = GitRepository.objects.all()
    form = forms.GitRepositoryForm


@register_model_view(GitRepository, "delete")
class GitRepositoryDeleteView(generic.ObjectDeleteView):
    queryset = GitRepository.objects.all()


@register_model_view(GitRepository, "bulk_delete", path="delete", detail=False)
class GitRepositoryBulkDeleteView(generic.BulkDeleteView):
    queryset = GitRepository.objects.all()
    filterset = filtersets.GitRepositoryFilterSet
    table = tables.GitRepositoryTable


@register_model_view(GitRepository, "test_connection", path="test-connection")
class GitRepositoryTestConnectionView(GetReturnURLMixin, BaseObjectView):
    """POST from the repository page: queue a connection test (one at a time). Needs
    netbox_hedgehog.test_connection_gitrepository (object constraints apply: the queryset is
    restricted by BaseObjectView)."""

    queryset = GitRepository.objects.all()

    def get_required_permission(self):
        return "netbox_hedgehog.test_connection_gitrepository"

    def get(self, request, pk):
        return redirect(get_object_or_404(self.queryset, pk=pk).get_absolute_url())

    def post(self, request, pk):
        repository = get_object_or_404(self.queryset, pk=pk)
        try:
            job, created = request_git_test(repository, user=request.user)
        except InvalidTransition as exc:
            messages.error(request, exc.message)
        except RedisError:
            messages.error(request, QUEUE_DOWN)
        else:
            text = (
                _("Connection test queued as job") if created else _("Connection test already running: job")
            )
            (messages.success if created else messages.info)(request, job_message(text, job))
        return redirect(self.get_return_url(request, repository))
