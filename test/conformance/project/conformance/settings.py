"""
A minimal DRF + SimpleJWT 5.x site, the reference Latchkey is recorded against.

SimpleJWT is set to Latchkey's defaults where it has the same setting
(lifetimes, rotation with the blacklist app, last_login). Environment:
SIGNING_KEY (required: the key the replay uses), CONFORMANCE_DB (the sqlite
file; a temporary directory's by default).
"""
import os
import tempfile
from datetime import timedelta

SIGNING_KEY = os.environ.get("SIGNING_KEY")
if not SIGNING_KEY:
    raise RuntimeError("SIGNING_KEY must be set (the key Latchkey's replay uses)")

SECRET_KEY = "conformance-project-django-secret-not-the-signing-key"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-us"
USE_I18N = True
ROOT_URLCONF = "conformance.urls"
WSGI_APPLICATION = "conformance.wsgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
]

# As `django-admin startproject` writes them, minus sessions, CSRF (DRF's views
# are exempt) and clickjacking: what a DRF API site keeps.
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("CONFORMANCE_DB") or os.path.join(tempfile.gettempdir(), "latchkey-conformance.sqlite3"),
    }
}

# Fast hashing: the recording is about answers, not hashing cost.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework_simplejwt.authentication.JWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": None,
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=15),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=7),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "ALGORITHM": os.environ.get("JWT_ALGORITHM", "HS256"),
    "SIGNING_KEY": SIGNING_KEY,
    "LEEWAY": 0,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
}
