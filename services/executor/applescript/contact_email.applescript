-- argv: exact contact name. One line per email address of every person of that name:
-- person id, tab, label, tab, value; a person with no address gives a line with the id alone.
-- Python takes the first address and refuses to guess between two people.
on run argv
	set theName to item 1 of argv
	set out to {}
	tell application "Contacts"
		set matches to (every person whose name is theName)
		if matches is {} then error "no contact named " & theName
		repeat with p in matches
			set pid to id of p
			set theEmails to emails of p
			if theEmails is {} then set end of out to pid
			repeat with em in theEmails
				set end of out to pid & tab & (label of em as text) & tab & (value of em)
			end repeat
		end repeat
	end tell
	set AppleScript's text item delimiters to linefeed
	return out as text
end run
