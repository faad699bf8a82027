from django.contrib import admin
from django.urls import path
from django_dramatiq.models import Task

from followups import views

# There is no public site to go back to, and the tasks table is not used (the rows in
# followups are the record): neither is offered in the admin.
admin.site.site_url = None
admin.site.index_template = "admin/followups/index.html"  # with a link to the outcomes page
if admin.site.is_registered(Task):
    admin.site.unregister(Task)

urlpatterns = [
    path("admin/outcomes/", admin.site.admin_view(views.outcomes_view), name="outcomes"),
    path("admin/", admin.site.urls),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", views.metrics, name="metrics"),
]
