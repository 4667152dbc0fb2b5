-- The names of the calendars that can take events, one per line (the default first).
on run argv
	tell application "Calendar" to set theNames to name of every calendar whose writable is true
	set AppleScript's text item delimiters to linefeed
	return theNames as text
end run
