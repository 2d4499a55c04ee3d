"""Simplified sliding sync (MSC4186), the sync Element X and matrix-rust-sdk speak.

- `required_state.py`: which state events a room carries (`$LAZY`, `$ME`, wildcards); pure.
- `room_list.py`: a person's rooms sorted by bump stamp, the list filters, one list's window; pure.
- `service.py`: connections, `pos` tokens, long-polling, the rooms and the extensions, built
  from the same stream, room reads, formatter, counts and E2EE pieces as /sync.
"""
