"""Long-running processes: the in-process store follower (later: relay, projector, automation)."""
