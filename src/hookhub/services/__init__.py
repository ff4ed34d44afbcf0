"""The service layer: every domain operation and its invariants, one function per change.

The doors (REST API, web UI, CLI, `hookhub apply`) translate their input and output and call these
functions, so the same change behaves the same through every door (DESIGN section 3, "Layers").
"""
