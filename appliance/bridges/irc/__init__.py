"""The IRC bridge (entry point `irc` of the group appliance.bridges); see plugin.py."""
from .plugin import IrcBridge

__all__ = ["IrcBridge"]
