"""drf-spectacular descriptions of our authentication classes."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ContextJWTScheme(OpenApiAuthenticationExtension):
    target_class = "apps.accounts.authentication.ContextJWTAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "Access token from PUT /api/v1/auth/tokens (or POST with parameters).",
        }


class UploadTokenScheme(OpenApiAuthenticationExtension):
    """The upload endpoints take an access token (``bearerAuth``) or the web UI's upload token."""

    target_class = "apps.accounts.authentication.UploadTokenAuthentication"
    name = "uploadToken"

    def get_security_requirement(self, auto_schema):
        return [{"bearerAuth": []}, {self.name: []}]

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "The web UI's upload token (POST /ui/upload-token): only the upload "
            "endpoints (tus) accept it; every other endpoint answers 401.",
        }


class LoginTokenScheme(OpenApiAuthenticationExtension):
    target_class = "apps.accounts.authentication.LoginTokenAuthentication"
    name = "loginToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "The first-step token of POST /api/v1/auth/tokens.",
        }


class ContextBasicScheme(OpenApiAuthenticationExtension):
    target_class = "apps.accounts.authentication.ContextBasicAuthentication"
    name = "basicAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "basic", "description": "The user's default context."}
