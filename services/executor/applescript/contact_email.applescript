-- argv: exact contact name. Returns the first email address, or "" if none.
on run argv
	set theName to item 1 of argv
	tell application "Contacts"
		set matches to (every person whose name is theName)
		if matches is {} then error "no contact named " & theName
		set theEmails to value of emails of item 1 of matches
	end tell
	if theEmails is {} then return ""
	return item 1 of theEmails
end run
