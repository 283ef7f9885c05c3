"""Packet sources (nouns): each yields PacketBatches in non-decreasing time order."""
