from django.contrib.auth import get_user_model
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView


class ProfileSerializer(serializers.ModelSerializer):
    class Meta:
        model = get_user_model()
        fields = ["first_name", "last_name"]


class MeView(APIView):
    """The authenticated user's profile; PATCH changes the names."""

    permission_classes = [IsAuthenticated]

    def get(self, request):
        return Response(self.profile(request.user))

    def patch(self, request):
        serializer = ProfileSerializer(request.user, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        serializer.save()
        return Response(self.profile(request.user))

    @staticmethod
    def profile(user):
        return {
            "id": user.id,
            "username": user.username,
            "email": user.email,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "is_staff": user.is_staff,
            "last_login": user.last_login,
            "date_joined": user.date_joined,
        }
