-- Every contact's name, one per line; Python picks the one the user meant.
on run argv
	tell application "Contacts" to set theNames to name of every person
	set AppleScript's text item delimiters to linefeed
	return theNames as text
end run
