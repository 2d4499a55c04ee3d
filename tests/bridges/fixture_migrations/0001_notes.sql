-- A test plugin's table (tests/bridges/test_plugin_tables.py).
CREATE TABLE echo_notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL);
CREATE INDEX echo_notes_text ON echo_notes (text);
