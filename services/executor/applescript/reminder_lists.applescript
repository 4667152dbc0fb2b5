-- The names of the reminder lists, one per line (the default list first).
on run argv
	tell application "Reminders"
		set theNames to {name of default list}
		repeat with l in lists
			if name of l is not in theNames then set end of theNames to name of l
		end repeat
	end tell
	set AppleScript's text item delimiters to linefeed
	return theNames as text
end run
