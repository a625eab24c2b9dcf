"""The native ``/v1`` API (AIStore's URL layout and JSON messages); see docs/native-api.md."""
