-- argv: exact contact name. Returns the first phone number, or "" if none.
on run argv
	set theName to item 1 of argv
	tell application "Contacts"
		set matches to (every person whose name is theName)
		if matches is {} then error "no contact named " & theName
		set thePhones to value of phones of item 1 of matches
	end tell
	if thePhones is {} then return ""
	return item 1 of thePhones
end run
