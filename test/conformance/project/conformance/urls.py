"""SimpleJWT's views at Latchkey's paths, and a tiny profile view."""
from django.urls import path
from rest_framework_simplejwt.views import TokenBlacklistView, TokenObtainPairView, TokenRefreshView, TokenVerifyView

from .views import MeView

urlpatterns = [
    path("auth/login/", TokenObtainPairView.as_view()),
    path("auth/refresh/", TokenRefreshView.as_view()),
    path("auth/verify/", TokenVerifyView.as_view()),
    path("auth/logout/", TokenBlacklistView.as_view()),
    path("auth/me/", MeView.as_view()),
]
