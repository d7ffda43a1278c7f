"""The MaxCare IDs tests share: one note, three providers, one task (fake, well-formed)."""

NOTE = "nte_3cc73cb69c59403ca9108af6c5693b25"
NOTE_UUID = "3CC73CB6-9C59-403C-A910-8AF6C5693B25"  # NOTE as a dashed UUID, as people paste it
PRV_A = "prv_" + "a" * 32
PRV_B = "prv_" + "b" * 32
PRV_C = "prv_" + "c" * 32
TASK = "tsk_a1b2c3d456784abc9def0123456789ab"
