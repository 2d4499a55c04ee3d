"""m.room.topic content (client-server-api m.room.topic, v1.15 m.topic blocks)."""
from __future__ import annotations

from typing import Any


def topic_content(topic: str) -> dict[str, Any]:
    """m.room.topic content with the plain text also as an m.topic text/plain block (v1.15)."""
    return {"topic": topic, "m.topic": {"m.text": [{"mimetype": "text/plain", "body": topic}]}}


def plain_topic(content: dict[str, Any]) -> str | None:
    """The plain-text topic of m.room.topic content: its text/plain m.topic block, else `topic`."""
    block = content.get("m.topic")
    texts = block.get("m.text") if isinstance(block, dict) else None
    if isinstance(texts, list):
        for t in texts:
            if not isinstance(t, dict) or not isinstance(t.get("body"), str):
                continue
            if t.get("mimetype", "text/plain") == "text/plain":
                return t["body"]
    topic = content.get("topic")
    return topic if isinstance(topic, str) else None
