"""SimpleJWT's views at Latchkey's paths and at the aliases Latchkey serves too, and a tiny profile view."""
from django.urls import path
from rest_framework_simplejwt.views import TokenBlacklistView, TokenObtainPairView, TokenRefreshView, TokenVerifyView

from .views import MeView

urlpatterns = [
    path("auth/login/", TokenObtainPairView.as_view()),
    path("auth/refresh/", TokenRefreshView.as_view()),
    path("auth/verify/", TokenVerifyView.as_view()),
    path("auth/logout/", TokenBlacklistView.as_view()),
    path("auth/me/", MeView.as_view()),
    # Where SimpleJWT's documentation mounts them, which Latchkey serves as aliases.
    path("api/token/", TokenObtainPairView.as_view()),
    path("api/token/refresh/", TokenRefreshView.as_view()),
    path("api/token/verify/", TokenVerifyView.as_view()),
    path("auth/token/", TokenObtainPairView.as_view()),
    path("auth/token/refresh/", TokenRefreshView.as_view()),
    path("auth/token/verify/", TokenVerifyView.as_view()),
    path("auth/token/blacklist/", TokenBlacklistView.as_view()),
]
