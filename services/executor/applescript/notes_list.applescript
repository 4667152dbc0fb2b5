-- Every note as "folder<TAB>name", one per line; Python picks the one the user meant.
on run argv
	set out to {}
	tell application "Notes"
		repeat with f in folders
			repeat with n in notes of f
				set end of out to (name of f) & tab & (name of n)
			end repeat
		end repeat
	end tell
	set AppleScript's text item delimiters to linefeed
	return out as text
end run
