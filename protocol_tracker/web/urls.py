from django.urls import path

from protocol_tracker.web.views import account, bench, protocols, qc, review, runs, trends

app_name = "web"
urlpatterns = [
    path("", bench.bench, name="bench"),
    path("accounts/login/", account.login, name="login"),
    path("accounts/logout/", account.logout, name="logout"),
    path("accounts/password/", account.password_change, name="password_change"),
    path("accounts/password/done/", account.password_change_done, name="password_change_done"),
    path("lab/", account.lab_switch, name="lab_switch"),
    path("notifications/", account.notifications, name="notifications"),
    path("notifications/<int:pk>/read/", account.notification_read, name="notification_read"),
    path("preferences/", account.preferences, name="preferences"),
    path("stages/<int:pk>/start/", bench.stage_start, name="stage_start"),
    path("stages/<int:pk>/complete/", bench.stage_complete, name="stage_complete"),
    path("tasks/<int:pk>/done/", bench.task_done, name="task_done"),
    path("runs/", runs.run_list, name="runs"),
    path("runs/new/", runs.run_new, name="run_new"),
    path("runs/<int:pk>/", runs.run_detail, name="run"),
    path("runs/<int:pk>/do/<str:action>/", runs.run_action, name="run_action"),
    path("runs/<int:pk>/record/", runs.batch_record, name="batch_record"),
    path("runs/<int:pk>/release/", review.run_release, name="run_release"),
    path("runs/<int:pk>/reject/", review.run_reject, name="run_reject"),
    path("stages/<int:stage_pk>/qc/<int:checkpoint_pk>/", qc.qc_entry, name="qc_entry"),
    path("stages/<int:stage_pk>/qc/<int:checkpoint_pk>/check/", qc.qc_check, name="qc_check"),
    path("results/<int:pk>/correct/", qc.qc_correct, name="qc_correct"),
    path("review/", review.review_queue, name="review"),
    path("deviations/<int:pk>/", review.deviation_detail, name="deviation"),
    path("trends/", trends.trend_index, name="trends"),
    path("trends/<int:pk>/", trends.trend_chart, name="trend"),
    path("protocols/", protocols.protocol_list, name="protocols"),
    path("protocols/new/", protocols.protocol_new, name="protocol_new"),
    path(
        "protocols/import-defaults/",
        protocols.protocol_import_defaults,
        name="protocol_import_defaults",
    ),
    path("protocols/<int:pk>/", protocols.protocol_detail, name="protocol"),
    path("protocols/<int:pk>/compare/", protocols.protocol_compare, name="protocol_compare"),
    path("protocols/<int:pk>/add/<str:part>/", protocols.protocol_add, name="protocol_add"),
    path("protocols/<int:pk>/<str:action>/", protocols.protocol_action, name="protocol_action"),
]
