"""The GraphQL door: strawberry schema, context and the ASGI view."""
