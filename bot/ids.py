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

# Admin: the link modal
LINK_VIEW = "link_provider"
LINK_USER_BLOCK = "link_user"
LINK_USER_ACTION = "link_user_input"
LINK_PROVIDER_BLOCK = "link_provider"
LINK_PROVIDER_ACTION = "link_provider_input"  # external_select: options from MaxCare
NO_PROVIDER_VALUE = "none"  # the hint option shown when no provider matches
# Admin: the paged `/task links` table
LINKS_PREV_ACTION = "links_page_prev"
LINKS_NEXT_ACTION = "links_page_next"

# Live status: card and list buttons, the Home tab
REFRESH_TASK_ACTION = "refresh_task"  # on every card; value: the task ID
CARD_ACTIONS_BLOCK = "task_card_actions"
MINE_MORE_ACTION = "mine_more"  # `/task mine` paging; value: the offset of the next page
MINE_REFRESH_ACTION = "mine_refresh"  # a row of `/task mine`; value: "<task ID>:<offset>"
HOME_CREATE_TASK_ACTION = "home_create_task"
HOME_NOTIFY_ACTION = "home_notify_assigned"  # the Home tab's "Tell me when I'm assigned" box
NOTIFY_ON_VALUE = "on"  # the value of that checkbox's one option
APP_HOME_OPENED = "app_home_opened"  # the event (manifest.yml: bot_events)

# The Workflow Builder step (manifest.yml: functions), and the event Slack runs it with
WORKFLOW_STEP = "create_maxcare_task"
FUNCTION_EXECUTED = "function_executed"  # manifest.yml: bot_events
STEP_NOTE_ID = "note_id"  # string: nte_… or the note's UUID
STEP_ASSIGNEES = "assignees"  # array of slack#/types/user_id
STEP_NOTES = "notes"  # string: the task text
STEP_CREATOR = "creator"  # slack#/types/user_id: the person the task is created as
STEP_CHANNEL = "channel"  # optional slack#/types/channel_id: where the card goes
STEP_INPUTS = (STEP_NOTE_ID, STEP_ASSIGNEES, STEP_NOTES, STEP_CREATOR, STEP_CHANNEL)
STEP_REQUIRED = (STEP_NOTE_ID, STEP_ASSIGNEES, STEP_NOTES, STEP_CREATOR)
STEP_TASK_ID = "task_id"  # outputs, every one a string
STEP_STATUS = "status"
STEP_SYNC_STATUS = "sync_status"
STEP_OUTPUTS = (STEP_TASK_ID, STEP_STATUS, STEP_SYNC_STATUS)

ALL_CALLBACKS = {MESSAGE_SHORTCUT, GLOBAL_SHORTCUT}
ALL_VIEWS = {CREATE_TASK_VIEW, LINK_VIEW}
ALL_FUNCTIONS = {WORKFLOW_STEP}

# The bot scopes the app asks for when a workspace installs it (many-workspace mode's "Add to
# Slack"); the same list as manifest.yml's oauth_config.scopes.bot (a test keeps them equal).
BOT_SCOPES = ("commands", "chat:write", "im:write", "users:read", "users:read.email")
# Many-workspace mode's install ("Add to Slack") and Slack's redirect back after it.
INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
