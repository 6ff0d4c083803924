"""The workbench screen: a Textual app over the engine (see DESIGN section 4)."""
