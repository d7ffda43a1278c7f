"""Every Slack command, callback, block and action ID the app uses (manifest.yml must agree)."""

SLASH_COMMAND = "/task"

# Shortcuts
MESSAGE_SHORTCUT = "create_task_from_message"
GLOBAL_SHORTCUT = "create_task"

# The task modal and its input blocks
CREATE_TASK_VIEW = "create_task"
NOTE_BLOCK = "note"
NOTE_ACTION = "note_input"
ASSIGNEES_BLOCK = "assignees"
ASSIGNEES_ACTION = "assignees_input"
NOTES_BLOCK = "notes"
NOTES_ACTION = "notes_input"
DESTINATION_BLOCK = "destination"
DESTINATION_ACTION = "destination_input"

# Buttons
REOPEN_DRAFT_ACTION = "reopen_draft"
DISMISS_DRAFT_ACTION = "dismiss_draft"

ALL_CALLBACKS = {MESSAGE_SHORTCUT, GLOBAL_SHORTCUT}
ALL_VIEWS = {CREATE_TASK_VIEW}
