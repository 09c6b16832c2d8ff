"""The training recipe shared by every weak-label source and every comparison dataset."""
