"""Signals the documents app sends."""

from django.dispatch import Signal

# Sent once a letter's PDF is stored and the transaction that recorded it has
# committed (so a receiver sees the issued letter and its ``letter_issued`` event).
# The route resumes the process step that waits for the letter from here.
# Arguments: sender=Letter, letter, case.
letter_stored = Signal()
