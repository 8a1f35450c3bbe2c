"""Engines: what turns token ids into more token ids, behind one interface (`base.Engine`)."""
