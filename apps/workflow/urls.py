from django.urls import path

from apps.workflow.api import views

urlpatterns = [
    path("workflow", views.PendingActivitiesView.as_view(), name="workflow-pending"),
    path("workflow/approve/<str:node_id>", views.ApproveView.as_view(), name="workflow-approve"),
    path("workflow/reject/<str:node_id>", views.RejectView.as_view(), name="workflow-reject"),
    path("workflow/forward/<str:node_id>", views.ForwardView.as_view(), name="workflow-forward"),
    path("workflow/acknowledge/<str:node_id>", views.AcknowledgeView.as_view(),
         name="workflow-acknowledge"),
    path("workflow/setuserchoice/<str:node_id>", views.SetUserChoiceView.as_view(),
         name="workflow-setuserchoice"),
    path("workflow/<str:user_id>", views.UserActivitiesView.as_view(), name="workflow-user"),
]
